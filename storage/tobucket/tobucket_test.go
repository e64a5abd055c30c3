package tobucket_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/internal/testdb"
	"tiktok/internal/testsvc"
	"tiktok/storage"
	"tiktok/storage/tobucket"
	"tiktok/store"
)

// db is this package's migrated test database. Each test empties it first: a migration walks
// every row, so the tests do not run in parallel.
var db *gorm.DB

func TestMain(m *testing.M) { testdb.Main(m, &db) }

const publicBase = "http://localhost:8000"

// fixture is a database and an UPLOAD_DIR as a server on the local disk leaves them, and a
// bucket to move them to.
type fixture struct {
	t      *testing.T
	bucket testsvc.S3Bucket
	s3     *storage.S3
	local  *storage.Local
	// files are the local files by name; want are the rows that must end in the bucket.
	files map[string][]byte
	want  []wantRow
}

// wantRow is a row whose column holds a local file's URL.
type wantRow struct {
	table, urlCol, pathCol string
	id                     int32
	url, key               string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testdb.MustRun(t, db, `TRUNCATE users, videos, comments, video_likes, comment_likes, follows, refresh_tokens RESTART IDENTITY CASCADE`)
	b := testsvc.S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s3, err := storage.NewS3(ctx, b.Options())
	if err != nil {
		t.Fatal(err)
	}
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, bucket: b, s3: s3, local: local, files: map[string][]byte{}}
}

// file writes a new local file of ext and returns its name.
func (f *fixture) file(ext string, data []byte) string {
	f.t.Helper()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	name := hex.EncodeToString(b) + "." + ext
	if err := os.WriteFile(filepath.Join(f.local.Dir, name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.files[name] = data
	return name
}

func (f *fixture) user(avatar *string) int32 {
	f.t.Helper()
	var id int32
	n := len(f.want) + int(time.Now().UnixNano()%1e9)
	testdb.MustScan(f.t, db, &id, `INSERT INTO users (username, email, password, avatar) VALUES (?, ?, 'x', ?) RETURNING id`,
		fmt.Sprintf("u%d", n), fmt.Sprintf("u%d@example.com", n), avatar)
	return id
}

func (f *fixture) video(user int32, videoURL string, thumb *string) int32 {
	f.t.Helper()
	var id int32
	testdb.MustScan(f.t, db, &id, `INSERT INTO videos (user_id, video_url, thumbnail_url) VALUES (?, ?, ?) RETURNING id`, user, videoURL, thumb)
	return id
}

func ptr(s string) *string { return &s }

// seed fills the database the way a server on the local disk does, with the awkward cases:
// files of every kind, an avatar and a video hosted elsewhere (as the seeder's sample data
// has), a URL given under PUBLIC_BASE_URL, one file two rows share, and one file that is gone.
// It returns the id of the row whose file is missing.
func (f *fixture) seed(users int) (missingVideo int32) {
	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x10mdat")
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	for i := range users {
		avatar := f.file("png", append(png, fmt.Sprintf("avatar %d", i)...))
		u := f.user(ptr("/uploads/" + avatar))
		f.want = append(f.want, wantRow{"users", "avatar", "avatar_storage_path", u, "/uploads/" + avatar, "avatars/" + avatar})
		for j := range 2 {
			video := f.file("mp4", append(mp4, bytes.Repeat([]byte{byte(i), byte(j)}, 1000*(i+1))...))
			thumb := f.file("jpg", append([]byte{0xFF, 0xD8, 0xFF}, fmt.Sprintf("thumb %d %d", i, j)...))
			v := f.video(u, "/uploads/"+video, ptr("/uploads/"+thumb))
			f.want = append(f.want,
				wantRow{"videos", "video_url", "video_storage_path", v, "/uploads/" + video, "videos/" + video},
				wantRow{"videos", "thumbnail_url", "thumbnail_storage_path", v, "/uploads/" + thumb, "thumbnails/" + thumb})
		}
	}
	elsewhere := f.user(ptr("https://i.pravatar.cc/150?u=x"))
	f.video(elsewhere, "https://example.com/videos/user1_video1.mp4", ptr("https://example.com/thumbnails/user1_video1.jpg"))

	absolute := f.file("webm", []byte("\x1a\x45\xdf\xa3webm"))
	v := f.video(elsewhere, publicBase+"/uploads/"+absolute, nil)
	f.want = append(f.want, wantRow{"videos", "video_url", "video_storage_path", v, publicBase + "/uploads/" + absolute, "videos/" + absolute})

	shared := f.file("gif", []byte("GIF89a shared"))
	for range 2 {
		u := f.user(ptr("/uploads/" + shared))
		f.want = append(f.want, wantRow{"users", "avatar", "avatar_storage_path", u, "/uploads/" + shared, "avatars/" + shared})
	}
	return f.video(elsewhere, "/uploads/ffffffffffffffffffffffffffffffff.mp4", nil)
}

func (f *fixture) options(out io.Writer) tobucket.Options {
	return tobucket.Options{Store: store.New(db), Local: f.local, Bucket: f.s3, PublicBaseURL: publicBase, Out: out, BatchSize: 3, ProgressEvery: 4}
}

func (f *fixture) run(ctx context.Context, dryRun bool) (tobucket.Result, string) {
	f.t.Helper()
	var out bytes.Buffer
	o := f.options(&out)
	o.DryRun = dryRun
	res, err := tobucket.Run(ctx, o)
	if err != nil {
		f.t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// objects lists the bucket's keys.
func (f *fixture) objects() []string {
	f.t.Helper()
	var keys []string
	for o := range f.bucket.Client.ListObjects(context.Background(), f.bucket.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			f.t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// snapshot is every media column of every row, to see that nothing changed.
func snapshot(t *testing.T) string {
	t.Helper()
	var rows []struct {
		Kind string
		ID   int32
		URL  *string
		Path *string
	}
	testdb.MustScan(t, db, &rows, `SELECT 'u' AS kind, id, avatar AS url, avatar_storage_path AS path FROM users
		UNION ALL SELECT 'v', id, video_url, video_storage_path FROM videos
		UNION ALL SELECT 't', id, thumbnail_url, thumbnail_storage_path FROM videos ORDER BY 1, 2`)
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %d %v %v\n", r.Kind, r.ID, deref(r.URL), deref(r.Path))
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// checkMigrated checks that every wanted row points at its object, and the object holds the
// file's bytes, with its type and cache header, at the URL the row now has.
func (f *fixture) checkMigrated() {
	f.t.Helper()
	for _, w := range f.want {
		var row struct {
			URL  string
			Path *string
		}
		testdb.MustScan(f.t, db, &row, `SELECT `+w.urlCol+` AS url, `+w.pathCol+` AS path FROM `+w.table+` WHERE id = ?`, w.id)
		if row.URL != f.bucket.PublicBaseURL+"/"+w.key || row.Path == nil || *row.Path != w.key {
			f.t.Errorf("%s.%s of row %d: %s (path %s), want %s/%s (path %s)", w.table, w.urlCol, w.id, row.URL, deref(row.Path),
				f.bucket.PublicBaseURL, w.key, w.key)
			continue
		}
		res, err := http.Get(row.URL)
		if err != nil {
			f.t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		name := strings.TrimPrefix(w.url, publicBase)[len("/uploads/"):]
		if res.StatusCode != 200 || !bytes.Equal(body, f.files[name]) {
			f.t.Errorf("GET %s: %d, %d bytes; want the %d bytes of %s", row.URL, res.StatusCode, len(body), len(f.files[name]), name)
		}
		if ct, want := res.Header.Get("Content-Type"), storage.ContentTypeOfName(name); ct != want {
			f.t.Errorf("%s: Content-Type %q, want %q", w.key, ct, want)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			f.t.Errorf("%s: Cache-Control %q", w.key, cc)
		}
	}
}

func TestMigrateCopiesEveryLocalFileAndRewritesItsRows(t *testing.T) {
	f := newFixture(t)
	missing := f.seed(3)
	ctx := context.Background()
	distinct := len(f.files)
	before := snapshot(t)

	t.Run("a dry run reports and writes nothing", func(t *testing.T) {
		res, out := f.run(ctx, true)
		want := tobucket.Result{Rows: len(f.want) + 1, Copied: len(f.want), Missing: 1, Rewritten: len(f.want)}
		if res != want {
			t.Fatalf("dry run: %+v, want %+v\n%s", res, want, out)
		}
		if keys := f.objects(); len(keys) != 0 {
			t.Fatalf("a dry run put %v into the bucket", keys)
		}
		if after := snapshot(t); after != before {
			t.Fatalf("a dry run changed rows:\n%s\nwas\n%s", after, before)
		}
		if !strings.Contains(out, "dry run") {
			t.Fatalf("the report does not say it is a dry run:\n%s", out)
		}
	})

	t.Run("the run copies each file once and rewrites each row", func(t *testing.T) {
		res, out := f.run(ctx, false)
		// The shared file is copied for its first row and found in the bucket for the second.
		want := tobucket.Result{Rows: len(f.want) + 1, Copied: distinct, InBucket: len(f.want) - distinct, Missing: 1, Rewritten: len(f.want)}
		if res != want {
			t.Fatalf("run: %+v, want %+v\n%s", res, want, out)
		}
		if got := len(f.objects()); got != distinct {
			t.Fatalf("the bucket holds %d objects, want %d", got, distinct)
		}
		f.checkMigrated()
		if !strings.Contains(out, fmt.Sprintf("videos.video_url of row %d is /uploads/ffffffffffffffffffffffffffffffff.mp4", missing)) {
			t.Errorf("the missing file is not reported:\n%s", out)
		}
		if lines := strings.Count(out, "rows:"); lines != (len(f.want)+1)/4 {
			t.Errorf("%d progress lines for %d rows, one every 4:\n%s", lines, len(f.want)+1, out)
		}
		var left string
		testdb.MustScan(t, db, &left, `SELECT video_url FROM videos WHERE id = ?`, missing)
		if left != "/uploads/ffffffffffffffffffffffffffffffff.mp4" {
			t.Errorf("the row of the missing file became %s", left)
		}
		var elsewhere []string
		testdb.MustScan(t, db, &elsewhere, `SELECT avatar FROM users WHERE avatar LIKE 'https://i.pravatar.cc/%'
			UNION ALL SELECT video_url FROM videos WHERE video_url LIKE 'https://example.com/%'`)
		if len(elsewhere) != 2 {
			t.Errorf("URLs hosted elsewhere were touched: %v", elsewhere)
		}
	})

	t.Run("a second run copies nothing and changes nothing", func(t *testing.T) {
		migrated := snapshot(t)
		res, out := f.run(ctx, false)
		if want := (tobucket.Result{Rows: 1, Missing: 1}); res != want {
			t.Fatalf("second run: %+v, want %+v\n%s", res, want, out)
		}
		if after := snapshot(t); after != migrated {
			t.Fatalf("the second run changed rows")
		}
	})
}

// A run stopped half-way (here: its context cancelled after a few rows) leaves some rows
// rewritten and some objects copied; the next run does the rest, copying no object twice.
// An object copied whose row was not rewritten yet (a crash between the two) is found with
// its size and not copied again; one of another size is copied over.
func TestAnInterruptedMigrationResumes(t *testing.T) {
	f := newFixture(t)
	f.seed(4)
	distinct := len(f.files)
	// A crash between a copy and its row's rewrite, and a partial object of another size, on
	// the first two rows a run reaches (video files come first).
	first, second := f.want[1], f.want[3]
	if first.urlCol != "video_url" || second.urlCol != "video_url" {
		t.Fatalf("the seed changed: %+v %+v", first, second)
	}
	firstName := strings.TrimPrefix(first.url, "/uploads/")
	secondName := strings.TrimPrefix(second.url, "/uploads/")
	for key, data := range map[string][]byte{first.key: f.files[firstName], second.key: f.files[secondName][:5]} {
		// As an earlier run put it.
		if err := f.s3.PutFile(context.Background(), key, bytes.NewReader(data), int64(len(data)), "video/mp4"); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	o := f.options(cancelAfterProgress{&out, cancel})
	partial, err := tobucket.Run(ctx, o)
	if err == nil || partial.Rewritten == 0 || partial.Rewritten >= len(f.want) {
		t.Fatalf("the interrupted run: %+v, %v: want it stopped part-way\n%s", partial, err, out.String())
	}
	if partial.InBucket < 1 {
		t.Fatalf("the object already copied was copied again: %+v", partial)
	}

	rest, log := f.run(context.Background(), false)
	if rest.Rewritten+partial.Rewritten != len(f.want) || rest.Missing != 1 {
		t.Fatalf("first %+v then %+v: want %d rows rewritten in all\n%s", partial, rest, len(f.want), log)
	}
	// Every object was put once (the pre-placed whole one never, the short one over again).
	if copies := partial.Copied + rest.Copied; copies != distinct-1 {
		t.Fatalf("%d copies in all, want %d (each file once, but the one already in the bucket)", copies, distinct-1)
	}
	f.checkMigrated()
}

// cancelAfterProgress cancels the run at its first progress line.
type cancelAfterProgress struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c cancelAfterProgress) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("rows:")) {
		c.cancel()
	}
	return c.w.Write(p)
}

// A row edited between the read and the rewrite keeps the edit.
func TestARowEditedMeanwhileKeepsTheEdit(t *testing.T) {
	testdb.MustRun(t, db, `TRUNCATE users, videos RESTART IDENTITY CASCADE`)
	var id int32
	testdb.MustScan(t, db, &id, `INSERT INTO users (username, email, password, avatar) VALUES ('edited', 'edited@example.com', 'x', '/uploads/0123456789abcdef0123456789abcdef.png') RETURNING id`)
	media := store.New(db).LocalMedia()
	refs, err := media.Page(context.Background(), store.UserAvatarColumn, publicBase, 0, 10)
	if err != nil || len(refs) != 1 {
		t.Fatalf("page: %v, %v", refs, err)
	}
	testdb.MustRun(t, db, `UPDATE users SET avatar = 'https://cdn.example.com/new.png' WHERE id = ?`, id)
	ok, err := media.Rewrite(context.Background(), store.UserAvatarColumn, refs[0], "https://bucket/avatars/x.png", "avatars/x.png")
	if err != nil || ok {
		t.Fatalf("rewrite of a row edited meanwhile: %v, %v", ok, err)
	}
	var row struct {
		Avatar string
		Path   *string
	}
	testdb.MustScan(t, db, &row, `SELECT avatar, avatar_storage_path AS path FROM users WHERE id = ?`, id)
	if row.Avatar != "https://cdn.example.com/new.png" || row.Path != nil {
		t.Fatalf("the edit was overwritten: %+v", row)
	}
}

// The command says what is missing when no bucket is configured, and runs with one.
func TestCommand(t *testing.T) {
	testdb.MustRun(t, db, `TRUNCATE users, videos RESTART IDENTITY CASCADE`)
	load := func(env map[string]string) config.Config {
		c, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var stdout, stderr bytes.Buffer
	if code := tobucket.Command(context.Background(), load(nil), db, []string{"migrate"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "STORAGE=s3") || !strings.Contains(stderr.String(), "S3_BUCKET") {
		t.Fatalf("without S3 settings: exit %d, %s", code, stderr.String())
	}
	for _, bad := range [][]string{nil, {"copy"}, {"migrate", "-fast"}, {"migrate", "extra"}} {
		stderr.Reset()
		if code := tobucket.Command(context.Background(), load(nil), db, bad, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d", bad, code)
		}
	}

	b := testsvc.S3(t)
	env := b.Env()
	env["UPLOAD_DIR"] = t.TempDir()
	cfg := load(env)
	name := "0123456789abcdef0123456789abcdef.png"
	if err := os.WriteFile(filepath.Join(cfg.UploadDir, name), []byte("\x89PNG\r\n\x1a\nimage"), 0o644); err != nil {
		t.Fatal(err)
	}
	testdb.MustRun(t, db, `INSERT INTO users (username, email, password, avatar) VALUES ('cmd', 'cmd@example.com', 'x', ?)`, "/uploads/"+name)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "-dry-run"}, "1 rows: 1 to copy, 0 skipped (already in the bucket), 0 missing; 1 rows to rewrite (dry run: nothing written)"},
		{[]string{"migrate"}, "1 rows: 1 copied, 0 skipped (already in the bucket), 0 missing; 1 rows rewritten"},
		{[]string{"migrate"}, "0 rows: 0 copied, 0 skipped (already in the bucket), 0 missing; 0 rows rewritten"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := tobucket.Command(context.Background(), cfg, db, tc.args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "done in") ||
			!strings.Contains(stdout.String(), tc.want) {
			t.Fatalf("%q: exit %d\nstdout: %s\nstderr: %s\nwant %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}
	var avatar string
	testdb.MustScan(t, db, &avatar, `SELECT avatar FROM users WHERE username = 'cmd'`)
	if avatar != b.PublicBaseURL+"/avatars/"+name {
		t.Fatalf("avatar %s", avatar)
	}
}

// Two migrations run at once (two operators, two terminals) rewrite each row once between
// them: the UPDATE takes a row only while it still holds the local URL. The second may copy a
// file the first is copying too; the bytes are the same.
func TestTwoMigrationsAtOnceRewriteEachRowOnce(t *testing.T) {
	f := newFixture(t)
	f.seed(4)
	results := make(chan tobucket.Result, 2)
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			res, err := tobucket.Run(context.Background(), f.options(io.Discard))
			results <- res
			errc <- err
		}()
	}
	var rewritten, changed int
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		res := <-results
		rewritten += res.Rewritten
		changed += res.Changed
	}
	if rewritten != len(f.want) {
		t.Fatalf("%d rewrites between the two runs (%d found changed), want %d", rewritten, changed, len(f.want))
	}
	f.checkMigrated()
	if res, _ := f.run(context.Background(), false); res.Rewritten != 0 || res.Copied != 0 {
		t.Fatalf("a third run still found work: %+v", res)
	}
}

// A direct upload to the local disk is kept under its own key (videos/<user>/<name>), which
// already names its folder: the bucket gets the same key, not the folder twice.
func TestADirectUploadKeepsItsKey(t *testing.T) {
	f := newFixture(t)
	user := f.user(nil)
	key := fmt.Sprintf("videos/%d/%s.mp4", user, strings.Repeat("ab", 16))
	mp4 := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x10mdat")
	if err := os.MkdirAll(filepath.Join(f.local.Dir, filepath.Dir(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.local.Dir, key), mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	id := f.video(user, storage.URLPrefix+key, nil)
	testdb.MustRun(t, db, `UPDATE videos SET video_storage_path = ? WHERE id = ?`, key, id)

	res, out := f.run(context.Background(), false)
	if res.Copied != 1 || res.Rewritten != 1 || res.Missing != 0 {
		t.Fatalf("migrate = %+v\n%s", res, out)
	}
	if got := f.objects(); len(got) != 1 || got[0] != key {
		t.Fatalf("the bucket holds %v, want [%s]", got, key)
	}
	var row struct {
		VideoURL         string
		VideoStoragePath string
	}
	testdb.MustScan(t, db, &row, `SELECT video_url, video_storage_path FROM videos WHERE id = ?`, id)
	if row.VideoURL != f.s3.URL(key) || row.VideoStoragePath != key {
		t.Fatalf("row = %+v, want url %s and path %s", row, f.s3.URL(key), key)
	}
}
