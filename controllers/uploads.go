package controllers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/models"
	"tiktok/storage"
	"tiktok/store"
)

// Direct uploads (API.md, "Direct uploads"): POST /api/uploads signs one PUT straight to the
// store of uploads, after writing its row in the ledger; the client sends the bytes there and
// then registers the storage path with POST /api/videos or PUT /api/users/:id, which check the
// object (owner, existence, size, bytes) before writing it into a row. With the local store the
// signed URL is this server's PUT /uploads/<key> (Receive).

// SignedUploadTTL is how long a signed upload URL works.
const SignedUploadTTL = 15 * time.Minute

// directKinds are the kinds of direct upload and the folders their objects go to.
var directKinds = map[string]storage.Folder{
	"video": storage.VideosFolder, "thumbnail": storage.ThumbnailsFolder, "avatar": storage.AvatarsFolder,
}

// DirectUploads serves POST /api/uploads and, with the local store, the signed PUTs.
type DirectUploads struct {
	Store *store.Store
	Files *StoredFiles
	// Local is the local store, whose signed PUTs this server takes; nil with a bucket.
	Local *storage.Local
	// Now is the clock of the ledger and the signatures (time.Now when nil).
	Now func() time.Time
}

// uploadRequest is the body of POST /api/uploads.
type uploadRequest struct {
	Kind        *string `json:"kind"`
	ContentType *string `json:"contentType"`
	Size        *int64  `json:"size"`
}

// Sign answers POST /api/uploads: {kind, contentType, size} -> 200 {uploadUrl, method, headers,
// storagePath, expiresAt}. A size over the kind's cap is 413 and a type the kind does not take
// 415, before anything is written or signed.
func (d *DirectUploads) Sign(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	var in uploadRequest
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	var problems errs.Problems
	kind, contentType := cleanText(in.Kind), cleanText(in.ContentType)
	folder, known := storage.Folder(""), false
	if kind != nil {
		folder, known = directKinds[*kind]
	}
	if !known {
		problems.Add("kind", "must be video, thumbnail or avatar")
	}
	if contentType == nil {
		problems.Add("contentType", "is required (for example video/mp4 or image/jpeg)")
	}
	if in.Size == nil || *in.Size <= 0 {
		problems.Add("size", "must be the file's size in bytes, more than 0")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if limit := d.Files.capOf(*kind); *in.Size > limit {
		return errs.TooLarge("The " + *kind + " file is too large: at most " + megabytes(limit))
	}
	ct := strings.ToLower(*contentType)
	key, err := storage.NewDirectKey(folder, viewer, ct)
	if errors.Is(err, storage.ErrUnsupported) {
		return errs.UnsupportedMedia("A " + *kind + " cannot be of type " + *contentType)
	}
	if err != nil {
		return err
	}
	now := d.now().UTC()
	expires := now.Add(SignedUploadTTL).Truncate(time.Second)
	ctx := c.Request.Context()
	// The row comes first: an object that exists has a row, and so gets swept if never
	// registered. A URL that then fails to be signed leaves a row without an object, which
	// the sweep removes as well.
	if err := d.Store.Uploads.Reserve(ctx, &models.Upload{StoragePath: key, UserID: viewer, Kind: *kind,
		ContentType: ct, Size: *in.Size, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return err
	}
	signed, err := d.Files.Uploads.SignPut(ctx, key, ct, *in.Size, expires)
	if err != nil {
		return storageError(err)
	}
	c.JSON(http.StatusOK, gin.H{"uploadUrl": absoluteURL(c, d.Files.Media.Public(signed.URL)), "method": signed.Method,
		"headers": signed.Headers, "storagePath": key, "expiresAt": store.Timestamp(signed.ExpiresAt)})
	return nil
}

// Receive answers PUT /uploads/<key> with the local store: the signed upload itself.
func (d *DirectUploads) Receive(c *gin.Context) error {
	key := strings.TrimPrefix(c.Param("name"), "/")
	r := c.Request
	if err := d.Local.ReceivePut(r.Context(), key, r.URL.Query(), r.Header.Get("Content-Type"), r.ContentLength, r.Body); err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"storagePath": key})
	return nil
}

func (d *DirectUploads) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// absoluteURL makes the local store's upload URL absolute: under PUBLIC_BASE_URL (Media.Public,
// done by the caller), or, in a setup without one (tests building StoredFiles by hand), as the
// client reached this server. The frontend runs on another origin, where a relative URL would
// lead elsewhere.
func absoluteURL(c *gin.Context, u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return u
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + u
}

func megabytes(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// capOf is the size cap of a kind of upload (the same as a multipart upload's).
func (f *StoredFiles) capOf(kind string) int64 {
	if kind == "video" {
		return f.MaxVideoBytes
	}
	if kind == "avatar" {
		return MaxAvatarBytes
	}
	return MaxThumbnailBytes
}

// checkDirect checks the storage path a client registers as field, of a direct upload of
// kind: its shape (400 naming the field), that the caller reserved it (404, the same for
// another user's path and an unknown one), that it is not registered yet (400), that the
// object is there (400), no bigger than declared and capped (413) and of the declared type by
// its bytes (415). An object refused for its size or bytes is deleted. Registering it is the
// caller's transaction (store.Uploads.Register).
func (f *StoredFiles) checkDirect(ctx context.Context, viewer int32, field, kind, path string) error {
	folder, _, _, ok := storage.ParseDirectKey(path)
	if !ok || folder != directKinds[kind] {
		return errs.InvalidField(field, "must be the storagePath of a "+kind+" upload (POST /api/uploads)")
	}
	up, err := f.Ledger.Find(ctx, path, viewer, kind)
	if err != nil {
		return err
	}
	if up.RegisteredAt != nil {
		return errs.InvalidField(field, "is registered already")
	}
	info, err := f.Uploads.Stat(ctx, path)
	if errors.Is(err, storage.ErrNotFound) {
		return errs.InvalidField(field, "has not been uploaded: PUT the file to its uploadUrl first")
	}
	if err != nil {
		return storageError(err)
	}
	if info.Size > up.Size || info.Size > f.capOf(kind) {
		f.discard(ctx, path)
		return errs.TooLarge("The " + field + " file is larger than declared")
	}
	head, err := f.Uploads.ReadHead(ctx, path, storage.HeadBytes)
	if errors.Is(err, storage.ErrNotFound) {
		return errs.InvalidField(field, "has not been uploaded: PUT the file to its uploadUrl first")
	}
	if err != nil {
		return storageError(err)
	}
	if sniffed, _ := storage.Sniff(head); sniffed != up.ContentType {
		f.discard(ctx, path)
		return errs.UnsupportedMedia("The " + field + " file is not a " + up.ContentType + " file")
	}
	return nil
}

// register marks path registered in tx, the transaction writing the row that takes it; a
// registration that lost a race is the client's "registered already".
func register(ctx context.Context, tx *store.Store, viewer int32, field, kind, path string) error {
	_, err := tx.Uploads.Register(ctx, path, viewer, kind)
	if errors.Is(err, store.ErrUploadTaken) {
		return errs.InvalidField(field, "is registered already")
	}
	return err
}

// discard deletes a direct upload that failed its checks, and its ledger row once the URL
// can no longer bring the object back (store.Uploads.Forget).
func (f *StoredFiles) discard(ctx context.Context, path string) {
	f.delete(ctx, path)
	if err := f.Ledger.Forget(context.WithoutCancel(ctx), path); err != nil {
		f.Log.WarnContext(ctx, "cannot forget a refused upload", "file", path, "error", err)
	}
}

// storageError is the API error of a failure of the store of uploads: a store that cannot be
// reached is 503 unavailable, anything else internal.
func storageError(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return errs.Unavailable("File storage is unavailable, please retry", err)
	}
	return err
}

// Sweep deletes the objects of direct uploads never registered and signed before cutoff
// (then their ledger rows), and retries the deletes that failed before. Failures stay for the
// next run. Several instances may sweep at once: each takes rows the others do not hold.
func (f *StoredFiles) Sweep(ctx context.Context, cutoff time.Time) (unregistered, retried store.SweepResult, err error) {
	del := func(path string) error { return f.Uploads.Delete(ctx, path) }
	if unregistered, err = f.Ledger.SweepUnregistered(ctx, cutoff, del); err != nil {
		return unregistered, retried, err
	}
	retried, err = f.Ledger.RetryDeletes(ctx, del)
	return unregistered, retried, err
}

// UnregisteredUploadTTL is how long a direct upload may stay unregistered before the sweep
// deletes it (API.md).
const UnregisteredUploadTTL = 24 * time.Hour

// SweepEvery runs Sweep every interval until ctx ends (interval 0: never).
func (f *StoredFiles) SweepEvery(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		unregistered, retried, err := f.Sweep(ctx, time.Now().Add(-UnregisteredUploadTTL))
		if err != nil && ctx.Err() == nil {
			f.Log.WarnContext(ctx, "the sweep of uploads failed", "error", err)
		}
		if unregistered.Deleted+unregistered.Failed+retried.Deleted+retried.Failed > 0 {
			f.Log.InfoContext(ctx, "swept uploads", "unregistered_deleted", unregistered.Deleted,
				"unregistered_failed", unregistered.Failed, "retried_deleted", retried.Deleted, "retried_failed", retried.Failed)
		}
	}
}
