package docs

// prisma-parity.md points at our code by name, never by line: a reference is the Markdown link
//
//	[path: Symbol](../path)
//
// where path is the file from the repository root (the link target is the same file, relative
// to docs/) and Symbol is a top-level func, a method written Type.Method, a type, a const or a
// var that the Go file declares, or a "quoted string" that must appear in the file (a migration
// ID, say). Without ": Symbol" the link names the whole file. The tests below check that every
// such reference still resolves, so a rename or a move says which rows of the document to fix.

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// parityDoc is the checked document, from the repository root.
const parityDoc = "docs/prisma-parity.md"

// TestParityReferencesResolve is the check of the real document.
func TestParityReferencesResolve(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the repository root %s has no go.mod: %v", root, err)
	}
	checked, problems, err := checkReferences(root, parityDoc)
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 && len(problems) == 0 {
		t.Fatalf("%s: no references to our code found; is the syntax [path: Symbol](../path) still used?", parityDoc)
	}
	if len(problems) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: %d references to our code are malformed or do not resolve (%d well-formed ones checked); "+
			"each must be [path: Symbol](../path), Symbol a func, Type.Method, type, const or var the file declares, "+
			"or a \"quoted string\" it contains:\n",
			parityDoc, len(problems), checked)
		for _, p := range problems {
			fmt.Fprintf(&b, "\t%s\n", p)
		}
		t.Fatal(b.String())
	}
	t.Logf("%s: %d references to our code resolve", parityDoc, checked)
}

// TestParityCheckerBites runs the checker on a small made-up repository holding one of each
// mistake, and says which lines it must catch and which it must let through.
func TestParityCheckerBites(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example\n")
	write("pkg/a.go", `package pkg

const C = 1

var V, W = 2, 3

type T struct{}

type G[K comparable] struct{}

func F() {}

func (T) M() {}

func (*T) P() {}

func (G[K]) N() {}

var ids = []string{"202601010001_init"}
`)
	write("pkg/moved.go", "package pkg\n\nfunc Moved() {}\n\nfunc (T) Gone() {}\n")
	write("pkg/broken.go", "package pkg\n\nfunc {\n")
	write("notes.txt", "see 202601010001_init\n")
	write("docs/doc.md", strings.Join([]string{
		/* 1 */ "# [pkg/a.go: F](../pkg/a.go) and [pkg/a.go: T](../pkg/a.go)",
		/* 2 */ "[pkg/a.go: T.M](../pkg/a.go), [pkg/a.go: T.P](../pkg/a.go), [pkg/a.go: G.N](../pkg/a.go), [pkg/a.go: C](../pkg/a.go), [pkg/a.go: W](../pkg/a.go)",
		/* 3 */ "[notes.txt](../notes.txt), [notes.txt: \"202601010001_init\"](../notes.txt), [pkg/a.go: \"202601010001_init\"](../pkg/a.go), [web](https://example.com/a.go), [up](#top)",
		/* 4 */ "Prisma side keeps lines: `P4/src/app.js:10-12`, `schema.prisma:30`, `routes/videos.js:24`",
		/* 5 */ "[pkg/a.go: Moved](../pkg/a.go)",
		/* 6 */ "[pkg/a.go: T.Gone](../pkg/a.go)",
		/* 7 */ "[pkg/a.go: Nowhere](../pkg/a.go)",
		/* 8 */ "[pkg/b.go: F](../pkg/b.go)",
		/* 9 */ "left over: `pkg/a.go:12`",
		/* 10 */ "left over, no directory: a.go:3-4",
		/* 11 */ "[pkg/a.go:12](../pkg/a.go)",
		/* 12 */ "[pkg/moved.go: F](../pkg/a.go)",
		/* 13 */ "[pkg/a.go: F()](../pkg/a.go)",
		/* 14 */ "[notes.txt: F](../notes.txt)",
		/* 15 */ "[notes.txt: \"not there\"](../notes.txt)",
		/* 16 */ "[outside](../../etc/passwd)",
		/* 17 */ "a bare path: `pkg/a.go`",
		/* 18 */ "[pkg/broken.go: F](../pkg/broken.go)",
		/* 19 */ "[pkg: F](../pkg)",
		/* 20 */ "`[pkg/a.go: Nowhere](../pkg/a.go)` in a code span is not a link; `notes.txt:3` is",
		/* 21 */ "```",
		/* 22 */ "[pkg/a.go: Nowhere](../pkg/a.go) in a fence is not a link",
		/* 23 */ "```",
		/* 24 */ "[pkg/a.go: F](../docs/../pkg/a.go)",
		"",
	}, "\n"))

	checked, problems, err := checkReferences(root, "docs/doc.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range problems {
		got = append(got, p.Line)
		t.Logf("caught: %s", p)
	}
	want := []int{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 24}
	if !slices.Equal(got, want) {
		t.Errorf("problems on lines %v, want %v", got, want)
	}
	// Lines 1-3 hold 10 good references; those on lines 5-8, 15 and 18 are well-formed but
	// do not resolve.
	if checked != 16 {
		t.Errorf("checked %d well-formed references, want 16", checked)
	}
	// The messages name what moved and where it went, for the refactor that will move code.
	for line, part := range map[int]string{
		5:  "pkg/a.go declares no func, type, const or var Moved; it is declared in pkg/moved.go",
		6:  "pkg/a.go declares no method Gone of T; it is declared in pkg/moved.go",
		7:  "declared nowhere in the module",
		8:  "pkg/b.go does not exist",
		9:  "line-number reference",
		10: "line-number reference",
		12: "link text names pkg/moved.go but the link goes to pkg/a.go",
		16: "outside the repository",
		17: "code span",
		18: "does not parse",
		24: "write the link target as ../pkg/a.go",
	} {
		i := slices.IndexFunc(problems, func(p refProblem) bool { return p.Line == line })
		if i < 0 || !strings.Contains(problems[i].String(), part) {
			t.Errorf("line %d: want a message containing %q", line, part)
		}
	}
}

// refProblem is one reference that does not resolve, or text that is not a valid reference.
type refProblem struct {
	Doc  string // the markdown file, from the repository root
	Line int    // 1-based line in it
	Ref  string // the reference as written
	Msg  string
}

func (p refProblem) String() string { return fmt.Sprintf("%s:%d: %s: %s", p.Doc, p.Line, p.Ref, p.Msg) }

// codeRef is a well-formed reference to our code.
type codeRef struct {
	line   int
	text   string // as written
	file   string // from the repository root, slash-separated
	symbol string // "" for the whole file, Name, Type.Method or "quoted string"
}

var (
	linkRE     = regexp.MustCompile(`\[([^\[\]]*)\]\(([^()\s]*)\)`)
	codeSpanRE = regexp.MustCompile("`[^`]*`")
	lineRefRE  = regexp.MustCompile(`[A-Za-z0-9_./-]+\.[A-Za-z0-9]+:\d+`)
	refTextRE  = regexp.MustCompile(`^([A-Za-z0-9_./-]+)(?:: (.*))?$`)
	goSymbolRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
	quotedRE   = regexp.MustCompile(`^"[^"]+"$`)
	externalRE = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*:|#)`)
)

// checkReferences reads the markdown file doc (from root), and returns how many well-formed
// references to our code it holds and every problem: malformed references, line-number
// references to our files, and references whose file or symbol is missing, in line order.
func checkReferences(root, doc string) (checked int, problems []refProblem, err error) {
	md, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(doc)))
	if err != nil {
		return 0, nil, err
	}
	isFile := func(rel string) bool {
		rel = path.Clean(rel)
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return false
		}
		st, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		return err == nil && st.Mode().IsRegular()
	}
	refs, problems := scanReferences(doc, string(md), isFile)
	idx := &declIndex{root: root, files: map[string]*fileDecls{}}
	for _, r := range refs {
		if msg := idx.resolve(r); msg != "" {
			problems = append(problems, refProblem{Doc: doc, Line: r.line, Ref: r.text, Msg: msg})
		}
	}
	slices.SortStableFunc(problems, func(a, b refProblem) int { return a.Line - b.Line })
	return len(refs), problems, nil
}

// scanReferences extracts the references to our code from md and reports text that looks like
// a reference to our code but is not in the syntax. isFile says whether a root-relative path
// is one of our files.
func scanReferences(doc, md string, isFile func(string) bool) (refs []codeRef, problems []refProblem) {
	docDir := path.Dir(doc)
	bad := func(line int, ref, format string, args ...any) {
		problems = append(problems, refProblem{Doc: doc, Line: line, Ref: ref, Msg: fmt.Sprintf(format, args...)})
	}
	ours := func(p string) bool {
		return isFile(path.Clean(p)) || isFile(path.Join(docDir, p))
	}
	inFence := false
	for i, line := range strings.Split(md, "\n") {
		n := i + 1
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		// Line numbers into our code, anywhere (in code spans too). Go files are only ours;
		// the Prisma side's .js, .prisma and .sql files keep their lines, fixed by commit.
		// Each is reported once: the span or link holding it is not reported again.
		var lineRefs []string
		for _, m := range lineRefRE.FindAllString(line, -1) {
			file := m[:strings.LastIndex(m, ":")]
			if strings.HasSuffix(file, ".go") || ours(file) {
				bad(n, m, "line-number reference to our code; name the function or type instead, as [path: Symbol](../path)")
				lineRefs = append(lineRefs, m)
			}
		}
		reported := func(s string) bool {
			return slices.ContainsFunc(lineRefs, func(m string) bool { return strings.Contains(s, m) })
		}
		if inFence {
			continue
		}
		// A code span naming one of our files escapes the check: it must be a link.
		for _, span := range codeSpanRE.FindAllString(line, -1) {
			if reported(span) {
				continue
			}
			s := strings.Trim(span, "`")
			if j := strings.IndexAny(s, ":#"); j >= 0 {
				s = s[:j]
			}
			if s != "" && ours(s) {
				bad(n, span, "code span naming our file %s; write it as a link, [%s](%s) or [%s: Symbol](%s), so it is checked",
					s, s, relLink(docDir, s), s, relLink(docDir, s))
			}
		}
		// Links, with code spans blanked out: a link inside a code span is text.
		plain := codeSpanRE.ReplaceAllStringFunc(line, func(s string) string { return strings.Repeat(" ", len(s)) })
		for _, m := range linkRE.FindAllStringSubmatch(plain, -1) {
			whole, text, target := m[0], m[1], m[2]
			if externalRE.MatchString(target) || reported(text) {
				continue
			}
			file := path.Join(docDir, target)
			if file == ".." || strings.HasPrefix(file, "../") || path.IsAbs(target) {
				bad(n, whole, "the link goes outside the repository")
				continue
			}
			tm := refTextRE.FindStringSubmatch(text)
			if tm == nil {
				bad(n, whole, "malformed reference: write [%s](%s) or [%s: Symbol](%s)", file, target, file, target)
				continue
			}
			if tm[1] != file {
				bad(n, whole, "link text names %s but the link goes to %s; the two must be the same file", tm[1], file)
				continue
			}
			if want := relLink(docDir, file); target != want {
				bad(n, whole, "write the link target as %s, the file from the repository root behind %s", want, upToRoot(docDir))
				continue
			}
			sym := tm[2]
			switch {
			case sym == "" && strings.Contains(text, ":"):
				bad(n, whole, "malformed reference: nothing after \"%s:\"", file)
				continue
			case sym == "", quotedRE.MatchString(sym):
			case goSymbolRE.MatchString(sym):
				if !strings.HasSuffix(file, ".go") {
					bad(n, whole, "%s is not a Go file: reference it whole, or quote a string it contains", file)
					continue
				}
			default:
				bad(n, whole, "malformed symbol %q: want Name, Type.Method or \"quoted string\"", sym)
				continue
			}
			refs = append(refs, codeRef{line: n, text: whole, file: file, symbol: sym})
		}
	}
	return refs, problems
}

// relLink is the one way a document in docDir links to a file: up to the repository root,
// then the file's path from there, so the link text and target carry the same path.
func relLink(docDir, file string) string { return upToRoot(docDir) + file }

func upToRoot(docDir string) string {
	if docDir == "." {
		return "./"
	}
	return strings.Repeat("../", strings.Count(docDir, "/")+1)
}

// fileDecls are the top-level names a Go file declares: funcs, types, consts and vars as
// Name, methods as Type.Method.
type fileDecls struct {
	names map[string]bool
	err   error
}

type declIndex struct {
	root  string
	files map[string]*fileDecls // by root-relative path
	all   []string              // every .go file of the module, listed on first need
}

// resolve returns "" when r resolves, else what is wrong.
func (x *declIndex) resolve(r codeRef) string {
	full := filepath.Join(x.root, filepath.FromSlash(r.file))
	st, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s does not exist", r.file)
	case err != nil:
		return err.Error()
	case !st.Mode().IsRegular():
		return fmt.Sprintf("%s is not a file", r.file)
	}
	if r.symbol == "" {
		return ""
	}
	if quotedRE.MatchString(r.symbol) {
		b, err := os.ReadFile(full)
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(string(b), strings.Trim(r.symbol, `"`)) {
			return fmt.Sprintf("%s does not contain the string %s", r.file, r.symbol)
		}
		return ""
	}
	d := x.decls(r.file)
	if d.err != nil {
		return fmt.Sprintf("%s does not parse: %v", r.file, d.err)
	}
	if d.names[r.symbol] {
		return ""
	}
	what := "func, type, const or var " + r.symbol
	if typ, method, ok := strings.Cut(r.symbol, "."); ok {
		what = "method " + method + " of " + typ
	}
	return fmt.Sprintf("%s declares no %s; %s", r.file, what, x.where(r.symbol))
}

// where says which files of the module declare symbol, to tell where it moved.
func (x *declIndex) where(symbol string) string {
	if x.all == nil {
		x.all = []string{}
		filepath.WalkDir(x.root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if e.IsDir() && p != x.root && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" || e.Name() == "vendor") {
				return filepath.SkipDir
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") {
				if rel, err := filepath.Rel(x.root, p); err == nil {
					x.all = append(x.all, filepath.ToSlash(rel))
				}
			}
			return nil
		})
	}
	var in []string
	for _, f := range x.all {
		if x.decls(f).names[symbol] {
			in = append(in, f)
		}
	}
	if len(in) == 0 {
		return "it is declared nowhere in the module"
	}
	return "it is declared in " + strings.Join(in, ", ")
}

func (x *declIndex) decls(file string) *fileDecls {
	if d, ok := x.files[file]; ok {
		return d
	}
	d := &fileDecls{names: map[string]bool{}}
	x.files[file] = d
	src, err := os.ReadFile(filepath.Join(x.root, filepath.FromSlash(file)))
	if err != nil {
		d.err = err
		return d
	}
	f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.SkipObjectResolution)
	if err != nil {
		d.err = err
		return d
	}
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			if decl.Recv == nil || len(decl.Recv.List) == 0 {
				d.names[decl.Name.Name] = true
			} else if typ := receiverType(decl.Recv.List[0].Type); typ != "" {
				d.names[typ+"."+decl.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					d.names[spec.Name.Name] = true
				case *ast.ValueSpec:
					for _, name := range spec.Names {
						d.names[name.Name] = true
					}
				}
			}
		}
	}
	return d
}

// receiverType is the type name of a method's receiver: T for T, *T, T[K] and *T[K, V].
func receiverType(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.Ident:
			return t.Name
		case *ast.StarExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		default:
			return ""
		}
	}
}
