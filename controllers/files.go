package controllers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/storage"
	"tiktok/store"
)

// Stored files: reading an upload form into the file store, and removing files no row uses
// any more. A request that fails after saving a file removes it; a row deleted or changed
// has its old files removed after the commit, so a rolled-back change never loses one.

// StoredFiles is the file store of uploads, with the rows that point at its files.
type StoredFiles struct {
	Uploads storage.Store
	Refs    *store.Files
	// Ledger is the ledger of direct uploads, and where failed deletes are noted for the sweep.
	Ledger *store.Uploads
	// MaxVideoBytes caps a video (MAX_VIDEO_MB), uploaded either way.
	MaxVideoBytes int64
	Log           *slog.Logger
	// Media recognises URLs into this server's own storage, which a client may not give as
	// text (checkNotOwn).
	Media store.MediaURLs
}

// checkNotOwn refuses a URL given as the text of field that points into this server's own
// storage: the row would claim a file stored for someone else, and deleting the row would
// delete that file. Stored files are uploaded, or registered by their storage path.
func (f *StoredFiles) checkNotOwn(field string, u *string, p *errs.Problems) {
	if u == nil {
		return
	}
	if _, own := f.Media.Own(*u); own {
		p.Add(field, store.OwnStorageReason(field))
	}
}

// maxTextPart caps a text field of a multipart form (bio is the longest at 500 characters).
const maxTextPart = 4 << 10

// fileField is a file a form may carry: its folder (which decides its kind) and size cap.
type fileField struct {
	folder storage.Folder
	limit  int64
}

// uploadForm says which fields of a multipart form are read: file parts named in fileFields
// go straight into the store (never whole in memory), text parts named in textFields are
// read whole (up to maxTextPart). A file field's text part (no file name) counts as text.
// Other fields are ignored, as unknown JSON fields are.
type uploadForm struct {
	fileFields map[string]fileField
	textFields map[string]*optionalText
}

// read streams the request's multipart form. It returns the stored files by field; on its own
// failure it removes what it stored, and on a later failure the caller does (remove). Text
// fields are held to the text rules here (middleware.TextProblem), the one check of form
// text, before any handler sees them.
func (f *StoredFiles) read(c *gin.Context, form uploadForm) (map[string]storage.Object, error) {
	ctx := c.Request.Context()
	var closing *closingWatch
	// MultipartReader checks the media type and the boundary. The body is watched for the
	// closing delimiter: the multipart reader ends a form cut right after a part's delimiter
	// line with the same io.EOF as a complete one, so that alone cannot tell them apart.
	if _, params, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err == nil && c.Request.Body != nil {
		closing = newClosingWatch(c.Request.Body, params["boundary"])
		c.Request.Body = closing
	}
	mr, err := c.Request.MultipartReader()
	if err != nil || closing == nil {
		return nil, errs.Invalid(errs.CodeInvalidMultipart, "Request body is not a valid multipart form")
	}
	saved := map[string]storage.Object{}
	fail := func(err error) (map[string]storage.Object, error) {
		f.remove(ctx, saved)
		return nil, err
	}
	// Bad text fields are collected, so the answer lists each of them, in the form's order.
	var problems errs.Problems
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			if !closing.seen { // the body ended before the form did
				return fail(readError(io.ErrUnexpectedEOF))
			}
			if err := problems.Err(); err != nil {
				return fail(err)
			}
			return saved, nil
		}
		if err != nil {
			return fail(readError(err))
		}
		field := part.FormName()
		if spec, ok := f.fileField(form, field, part.FileName()); ok {
			if len(problems) > 0 {
				continue // the request fails anyway: storing the file would be wasted work
			}
			if _, dup := saved[field]; dup {
				return fail(errs.InvalidField(field, "must be sent once"))
			}
			body := &formReader{r: part}
			obj, err := f.Uploads.Save(ctx, body, spec.folder, spec.limit)
			if body.err != nil {
				return fail(readError(body.err))
			}
			if err != nil {
				return fail(saveError(err, field))
			}
			saved[field] = obj
			continue
		}
		target, ok := form.textFields[field]
		if !ok {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxTextPart+1))
		if err != nil {
			return fail(readError(err))
		}
		s := string(b)
		if len(b) > maxTextPart {
			problems.Add(field, "is too long")
			continue
		}
		if reason := middleware.TextProblem(field, s); reason != "" {
			problems.Add(field, reason)
			continue
		}
		*target = optionalText{Set: true, Value: &s}
	}
}

func (f *StoredFiles) fileField(form uploadForm, field, fileName string) (fileField, bool) {
	spec, ok := form.fileFields[field]
	return spec, ok && fileName != ""
}

// readError is the kind of a failure to read the form itself: over the body's cap is 413, a
// failure the body already gave a kind (its read deadline passed: 408) keeps it, anything else
// (a body cut short, a broken boundary) is a malformed form.
func readError(err error) error {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return errs.TooLarge("The upload is too large")
	}
	var kind *errs.Error
	if errors.As(err, &kind) {
		return kind
	}
	return errs.Invalid(errs.CodeInvalidMultipart, "Request body is not a valid multipart form")
}

// formReader reads a file part and keeps the error of reading the request body, if any. A
// store reports every failure alike; this tells the client's (a body cut short, a connection
// reset, the server's read timeout: a bad form, 400, or over the cap, 413) from the store's
// own (the disk: internal).
type formReader struct {
	r   io.Reader
	err error
}

func (f *formReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		f.err = err
	}
	return n, err
}

// closingWatch passes the request body through and notes whether the form's closing
// delimiter ("\r\n--" boundary "--") went by. A delimiter is only ever recognized at the start
// of a line, so finding it in the stream is what the multipart reader needs to end a form.
type closingWatch struct {
	io.ReadCloser
	delim []byte
	tail  []byte // the last len(delim)-1 bytes read, for a delimiter split between two reads
	seam  []byte // tail and the start of the next read
	seen  bool
}

func newClosingWatch(body io.ReadCloser, boundary string) *closingWatch {
	// The first delimiter of a form may open the body without a line break before it.
	return &closingWatch{ReadCloser: body, delim: []byte("\r\n--" + boundary + "--"), tail: []byte("\r\n")}
}

func (w *closingWatch) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if w.seen || n == 0 {
		return n, err
	}
	chunk, keep := p[:n], len(w.delim)-1
	w.seam = append(append(w.seam[:0], w.tail...), chunk[:min(n, keep)]...)
	if bytes.Contains(w.seam, w.delim) || bytes.Contains(chunk, w.delim) {
		w.seen = true
	} else if n >= keep {
		w.tail = append(w.tail[:0], chunk[n-keep:]...)
	} else {
		w.tail = append(w.tail[:0], w.seam[len(w.seam)-min(len(w.seam), keep):]...)
	}
	return n, err
}

// saveError is the kind of the store's refusal of a file part: 413 and 415 naming the field,
// 400 for an empty file, and the rest (the disk) is internal. Failures to read the part are
// readError's (formReader).
func saveError(err error, field string) error {
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return errs.TooLarge("The " + field + " file is too large")
	case errors.Is(err, storage.ErrUnsupported):
		return errs.UnsupportedMedia("The " + field + " file type is not accepted")
	case errors.Is(err, storage.ErrEmpty):
		return errs.InvalidField(field, "is empty")
	}
	return storageError(err)
}

// remove deletes the stored files of a failed request.
func (f *StoredFiles) remove(ctx context.Context, saved map[string]storage.Object) {
	for _, o := range saved {
		f.delete(ctx, o.Name)
	}
}

// delete removes a stored file (the store retries what may pass). A delete that still fails
// is logged and noted in storage_deletes for the sweep to retry: never fatal to the request,
// never a file kept forever.
func (f *StoredFiles) delete(ctx context.Context, name string) {
	ctx = context.WithoutCancel(ctx)
	err := f.Uploads.Delete(ctx, name)
	if err == nil {
		return
	}
	f.Log.WarnContext(ctx, "cannot delete stored file; the sweep will retry", "file", name, "error", err)
	if f.Ledger == nil {
		return
	}
	if err := f.Ledger.RecordFailedDelete(ctx, name); err != nil {
		f.Log.ErrorContext(ctx, "cannot note a failed delete for the sweep", "file", name, "error", err)
	}
}

// deleteUnreferenced removes the stored files that no row points to any more: by storage
// path where the row had one, else by the name behind a URL of this store (URLs of other
// sites are skipped). The check guards against a file shared by two rows, which the API does
// not create but psql or the seeder could.
func (f *StoredFiles) deleteUnreferenced(ctx context.Context, files []store.StoredFile) {
	var ours []store.StoredFile
	var names []string
	for _, file := range files {
		name, ok := "", false
		if file.Path != nil {
			name, ok = *file.Path, true
		} else {
			name, ok = f.Uploads.NameFromURL(file.URL)
		}
		if ok {
			ours, names = append(ours, file), append(names, name)
		}
	}
	if len(ours) == 0 {
		return
	}
	used, err := f.Refs.InUse(context.WithoutCancel(ctx), ours)
	if err != nil {
		f.Log.WarnContext(ctx, "cannot check stored files before deleting them", "error", err)
		return
	}
	var direct []string
	for i, file := range ours {
		if !slices.ContainsFunc(used, func(u store.StoredFile) bool { return u.URL == file.URL }) {
			f.delete(ctx, names[i])
			if _, _, _, ok := storage.ParseDirectKey(names[i]); ok {
				direct = append(direct, names[i])
			}
		}
	}
	// A direct upload's signed PUT URL may still work for a few minutes, and a replay of it
	// would put the object back with nothing pointing at it: those are deleted once more after
	// their URL expired.
	if len(direct) > 0 && f.Ledger != nil {
		if err := f.Ledger.DeleteAgainAfterExpiry(context.WithoutCancel(ctx), direct); err != nil {
			f.Log.WarnContext(ctx, "cannot note direct uploads to delete again after their URL expires", "error", err)
		}
	}
}
