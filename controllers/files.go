package controllers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
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
	Log     *slog.Logger
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
// failure it removes what it stored, and on a later failure the caller does (remove).
func (f *StoredFiles) read(c *gin.Context, form uploadForm) (map[string]storage.Object, error) {
	ctx := c.Request.Context()
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, errs.Invalid(errs.CodeInvalidMultipart, "Request body is not a valid multipart form")
	}
	saved := map[string]storage.Object{}
	fail := func(err error) (map[string]storage.Object, error) {
		f.remove(ctx, saved)
		return nil, err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return saved, nil
		}
		if err != nil {
			return fail(readError(err))
		}
		field := part.FormName()
		if spec, ok := f.fileField(form, field, part.FileName()); ok {
			if _, dup := saved[field]; dup {
				return fail(errs.InvalidField(field, "must be sent once"))
			}
			obj, err := f.Uploads.Save(ctx, part, spec.folder, spec.limit)
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
		if len(b) > maxTextPart {
			return fail(errs.InvalidField(field, "is too long"))
		}
		s := string(b)
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

// saveError is the kind of a failure to store a file part: the store's refusals are 413 and
// 415 naming the field, a failure to read the part is readError's, and the rest (the disk)
// is internal.
func saveError(err error, field string) error {
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return errs.TooLarge("The " + field + " file is too large")
	case errors.Is(err, storage.ErrUnsupported):
		return errs.UnsupportedMedia("The " + field + " file type is not accepted")
	case errors.Is(err, storage.ErrEmpty):
		return errs.InvalidField(field, "is empty")
	case errors.As(err, &maxBytes), errors.Is(err, io.ErrUnexpectedEOF):
		return readError(err)
	}
	return err
}

// remove deletes the stored files of a failed request.
func (f *StoredFiles) remove(ctx context.Context, saved map[string]storage.Object) {
	for _, o := range saved {
		f.delete(ctx, o.Name)
	}
}

// delete removes a stored file; a failure leaves an orphan file, which is logged, not fatal
// to the request.
func (f *StoredFiles) delete(ctx context.Context, name string) {
	if err := f.Uploads.Delete(context.WithoutCancel(ctx), name); err != nil {
		f.Log.WarnContext(ctx, "cannot delete stored file", "file", name, "error", err)
	}
}

// deleteUnreferenced removes the stored files behind urls that no row points to any more
// (URLs of other sites are skipped). The check guards against a file shared by two rows,
// which the API does not create but psql or the seeder could.
func (f *StoredFiles) deleteUnreferenced(ctx context.Context, urls []string) {
	var ours []string
	for _, url := range urls {
		if _, ok := f.Uploads.NameFromURL(url); ok {
			ours = append(ours, url)
		}
	}
	if len(ours) == 0 {
		return
	}
	used, err := f.Refs.Referenced(context.WithoutCancel(ctx), ours)
	if err != nil {
		f.Log.WarnContext(ctx, "cannot check stored files before deleting them", "error", err)
		return
	}
	for _, url := range ours {
		if !slices.Contains(used, url) {
			name, _ := f.Uploads.NameFromURL(url)
			f.delete(ctx, name)
		}
	}
}
