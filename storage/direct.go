package storage

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Direct uploads (API.md, "Direct uploads"): the server signs one PUT of one object of a
// declared size and type, the client sends the bytes straight to the store, and then registers
// the object's key. A direct upload's key is <folder>/<user id>/<32 hex digits>.<ext>, the
// extension the declared type's: the user id puts every object under a prefix of its owner,
// so a key alone says whose it is. Keys Save gives keep their older forms.

// SignedPut is a signed request for one PUT: send the bytes to URL with Method and exactly
// these Headers (and a Content-Length of the signed size) before ExpiresAt.
type SignedPut struct {
	URL       string
	Method    string
	Headers   map[string]string
	ExpiresAt time.Time
}

// ObjectInfo is what the store knows of a stored object without reading it.
type ObjectInfo struct {
	Size        int64
	ContentType string
}

// HeadBytes is how many first bytes of an object Sniff needs.
const HeadBytes = 512

// ErrNotFound is Stat's and ReadHead's answer for a key with no object.
var ErrNotFound = errors.New("storage: no such object")

// ErrUnavailable wraps a failure of the store that may pass (a store that cannot be reached,
// a server error that outlived the retries): the API answers 503 unavailable.
var ErrUnavailable = errors.New("storage: the store of uploads is unavailable")

// DirectTypes are the content types a direct upload may declare, with their extensions.
var DirectTypes = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
	"video/mp4": "mp4", "video/webm": "webm", "video/quicktime": "mov",
}

// Accepts reports whether folder takes files of contentType (one of DirectTypes).
func (f Folder) Accepts(contentType string) bool {
	kind, ok := f.Kind()
	_, known := DirectTypes[contentType]
	return ok && known && kindOf(contentType) == kind
}

// directKey matches the keys NewDirectKey gives, and only them: no dots but the extension's,
// no leading slash, no other folder, a user id without leading zeros.
var directKey = regexp.MustCompile(`^(videos|thumbnails|avatars)/([1-9][0-9]{0,9})/[0-9a-f]{32}\.(jpg|png|webp|gif|mp4|webm|mov)$`)

// NewDirectKey returns a new random key for a direct upload by userID into folder of a file
// of contentType; ErrUnsupported when the folder does not take that type.
func NewDirectKey(folder Folder, userID int32, contentType string) (string, error) {
	if userID <= 0 {
		return "", fmt.Errorf("storage: a direct upload needs a user, got id %d", userID)
	}
	if !folder.Accepts(contentType) {
		return "", ErrUnsupported
	}
	return fmt.Sprintf("%s/%d/%s.%s", folder, userID, randomName(), DirectTypes[contentType]), nil
}

// ParseDirectKey splits a key of a direct upload into its folder, its owner and the content
// type its extension names; ok is false for anything else.
func ParseDirectKey(key string) (folder Folder, userID int32, contentType string, ok bool) {
	m := directKey.FindStringSubmatch(key)
	if m == nil {
		return "", 0, "", false
	}
	id, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", 0, "", false
	}
	return Folder(m[1]), int32(id), contentTypeOfExt["."+m[3]], true
}
