package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/middleware"
	"tiktok/models"
	"tiktok/storage"
)

// Users serves the user profiles and lists (Prisma version: src/controllers/userController.js).
type Users struct {
	DB    *gorm.DB
	Store storage.Store
	Log   *slog.Logger
}

// MaxAvatarBytes caps an uploaded avatar, like a video thumbnail (API.md, uploads).
const MaxAvatarBytes = 5 << 20

// maxSearchChars bounds ?search=, so a prefix search stays a short index range scan.
const maxSearchChars = 100

// likeEscaper escapes LIKE's wildcards so a search for "a_b" matches only "a_b...".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// List answers GET /api/users: a bare array of users, filtered by a prefix of username or name
// when ?search= is given, at most ?limit= of them, ?page= for the offset.
func (u *Users) List(c *gin.Context) error {
	limit, err := ParseLimit(c)
	if err != nil {
		return err
	}
	page, _, err := ParsePage(c)
	if err != nil {
		return err
	}
	page = max(page, 1)
	search := strings.TrimSpace(c.Query("search"))
	if utf8.RuneCountInString(search) > maxSearchChars {
		return middleware.ValidationFailed(map[string]string{"search": "must be at most 100 characters"})
	}
	q := u.DB.WithContext(c.Request.Context()).Model(&models.User{})
	if search != "" {
		// lower(x) LIKE 'p%' matches the users_*_pattern_idx indexes (text_pattern_ops).
		pattern := likeEscaper.Replace(strings.ToLower(search)) + "%"
		q = q.Where("lower(username) LIKE ? OR lower(name) LIKE ?", pattern, pattern)
	}
	var users []models.User
	if err := q.Order("id").Limit(limit).Offset((page - 1) * limit).Find(&users).Error; err != nil {
		return err
	}
	following, err := u.viewerFollows(c, users)
	if err != nil {
		return err
	}
	out := make([]UserListItem, len(users))
	for i := range users {
		out[i] = UserListItem{UserSummary: NewUserSummary(&users[i], following(users[i].ID)), Bio: users[i].Bio, Count: userCount(&users[i])}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// viewerFollows loads, with one query, which of users the viewer follows. The returned
// function gives the isFollowing value of a user: nil for an anonymous viewer.
func (u *Users) viewerFollows(c *gin.Context, users []models.User) (func(int32) *bool, error) {
	ids := make([]int32, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	return viewerFollowsIDs(c, u.DB, ids)
}

func viewerFollowsIDs(c *gin.Context, db *gorm.DB, ids []int32) (func(int32) *bool, error) {
	viewer, ok := middleware.ViewerID(c)
	if !ok {
		return func(int32) *bool { return nil }, nil
	}
	followed := map[int32]bool{}
	if len(ids) > 0 {
		var rows []int32
		if err := db.WithContext(c.Request.Context()).
			Raw(`SELECT following_id FROM follows WHERE follower_id = ? AND following_id IN ?`, viewer, ids).
			Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, id := range rows {
			followed[id] = true
		}
	}
	return func(id int32) *bool {
		v := followed[id]
		return &v
	}, nil
}

// isFollowing reports whether the viewer (if any) follows target.
func isFollowing(c *gin.Context, db *gorm.DB, target int32) (bool, error) {
	viewer, ok := middleware.ViewerID(c)
	if !ok || viewer == target {
		return false, nil
	}
	var n int64
	err := db.WithContext(c.Request.Context()).
		Raw(`SELECT count(*) FROM follows WHERE follower_id = ? AND following_id = ?`, viewer, target).Scan(&n).Error
	return n > 0, err
}

// findUser loads a user or answers 404.
func findUser(ctx context.Context, db *gorm.DB, id int32) (*models.User, error) {
	var users []models.User
	if err := db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&users).Error; err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, middleware.NotFound("User not found")
	}
	return &users[0], nil
}

// requireUser answers 404 unless the user exists.
func requireUser(ctx context.Context, db *gorm.DB, id int32) error {
	var n int64
	if err := db.WithContext(ctx).Raw(`SELECT count(*) FROM users WHERE id = ?`, id).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return middleware.NotFound("User not found")
	}
	return nil
}

// Get answers GET /api/users/:id: the profile, with isFollowing for the viewer and the
// e-mail when the viewer is that user.
func (u *Users) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	user, err := findUser(c.Request.Context(), u.DB, id)
	if err != nil {
		return err
	}
	following, err := isFollowing(c, u.DB, id)
	if err != nil {
		return err
	}
	viewer, _ := middleware.ViewerID(c)
	c.JSON(http.StatusOK, NewUserProfile(user, viewer, following))
	return nil
}

// Me answers GET /api/users/me: the caller's own profile, with the e-mail.
func (u *Users) Me(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	user, err := findUser(c.Request.Context(), u.DB, viewer)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, NewUserProfile(user, viewer, false))
	return nil
}

// optionalText is a JSON field that tells "absent" (leave as is) from null or "" (clear it).
type optionalText struct {
	Set   bool
	Value *string
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optionalText) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

// profileInput is everything a client may change in a profile; nothing else is read from the
// body (no id, username, e-mail, password or counters: that is the mass-assignment guard).
type profileInput struct {
	Name   optionalText `json:"name"`
	Bio    optionalText `json:"bio"`
	Avatar optionalText `json:"avatar"`
}

// Update answers PUT /api/users/:id (self only): JSON {name?, bio?, avatar?} with avatar a
// URL, or multipart with the same text fields and avatar an image file.
func (u *Users) Update(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return middleware.Forbidden("You can only edit your own profile")
	}
	ctx := c.Request.Context()

	var in profileInput
	var uploaded *storage.Object
	committed := false
	defer func() {
		if uploaded != nil && !committed {
			u.deleteFile(ctx, uploaded.Name)
		}
	}()
	if strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/") {
		uploaded, err = u.readProfileMultipart(c, &in)
	} else {
		err = middleware.BindJSON(c, &in)
	}
	if err != nil {
		return err
	}

	updates := map[string]any{}
	errs := map[string]string{}
	if in.Name.Set {
		v := cleanText(in.Name.Value)
		checkName(v, errs)
		updates["name"] = v
	}
	if in.Bio.Set {
		v := cleanText(in.Bio.Value)
		checkBio(v, errs)
		updates["bio"] = v
	}
	// A path of our own store sent as text may only be the current avatar sent back: pointing
	// at someone else's file would let its later replacement delete that file.
	localAvatar := ""
	if uploaded != nil {
		updates["avatar"] = uploaded.URL
	} else if in.Avatar.Set {
		v := cleanText(in.Avatar.Value)
		if v != nil && strings.HasPrefix(*v, storage.URLPrefix) {
			localAvatar = *v
		} else {
			checkAvatarURL(v, errs)
		}
		updates["avatar"] = v
	}
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}

	var before, after models.User
	err = u.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT * FROM users WHERE id = ? FOR UPDATE`, id).Scan(&before).Error; err != nil {
			return err
		}
		if before.ID == 0 {
			return middleware.NotFound("User not found")
		}
		if localAvatar != "" && (before.Avatar == nil || *before.Avatar != localAvatar) {
			return middleware.ValidationFailed(map[string]string{"avatar": "must be an http(s) URL or an uploaded image file"})
		}
		if len(updates) > 0 {
			updates["updated_at"] = time.Now().UTC()
			if err := tx.Model(&models.User{}).Where("id = ?", id).Updates(updates).Error; err != nil {
				return err
			}
		}
		return tx.First(&after, id).Error
	})
	if err != nil {
		return err
	}
	committed = true
	if before.Avatar != nil && (after.Avatar == nil || *after.Avatar != *before.Avatar) {
		u.deleteUnreferenced(ctx, []string{*before.Avatar})
	}
	c.JSON(http.StatusOK, NewUserProfile(&after, viewer, false))
	return nil
}

// maxTextPart caps a text field of a multipart form (bio is the longest at 500 characters).
const maxTextPart = 4 << 10

// readProfileMultipart streams the multipart form: text fields into in, an avatar file part
// straight into the store (never whole in memory). It returns the stored avatar, if any.
func (u *Users) readProfileMultipart(c *gin.Context, in *profileInput) (*storage.Object, error) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, middleware.Invalid("invalid_multipart", "Request body is not a valid multipart form")
	}
	var saved *storage.Object
	fail := func(err error) (*storage.Object, error) {
		if saved != nil {
			u.deleteFile(c.Request.Context(), saved.Name)
		}
		return nil, err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var maxBytes *http.MaxBytesError
			if errors.As(err, &maxBytes) {
				return fail(err)
			}
			return fail(middleware.Invalid("invalid_multipart", "Request body is not a valid multipart form"))
		}
		field := part.FormName()
		if field == "avatar" && part.FileName() != "" {
			obj, err := u.Store.Save(c.Request.Context(), part, storage.Image, MaxAvatarBytes)
			if err != nil {
				return fail(storageError(err, "avatar"))
			}
			if saved != nil {
				u.deleteFile(c.Request.Context(), saved.Name)
			}
			saved = &obj
			continue
		}
		var target *optionalText
		switch field {
		case "name":
			target = &in.Name
		case "bio":
			target = &in.Bio
		case "avatar":
			target = &in.Avatar
		default:
			continue // unknown fields are ignored, as in JSON
		}
		b, err := io.ReadAll(io.LimitReader(part, maxTextPart+1))
		if err != nil {
			return fail(err)
		}
		if len(b) > maxTextPart {
			return fail(middleware.ValidationFailed(map[string]string{field: "is too long"}))
		}
		s := string(b)
		*target = optionalText{Set: true, Value: &s}
	}
	return saved, nil
}

// storageError maps the store's refusals to 413 and 415 naming the field.
func storageError(err error, field string) error {
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return middleware.TooLarge("The " + field + " file is too large")
	case errors.Is(err, storage.ErrUnsupported):
		return middleware.UnsupportedMedia("The " + field + " file type is not accepted")
	case errors.Is(err, storage.ErrEmpty):
		return middleware.ValidationFailed(map[string]string{field: "is empty"})
	}
	return err
}

// deleteFile removes a stored file; a failure leaves an orphan file, which is logged, not
// fatal to the request.
func (u *Users) deleteFile(ctx context.Context, name string) {
	if err := u.Store.Delete(context.WithoutCancel(ctx), name); err != nil && u.Log != nil {
		u.Log.WarnContext(ctx, "cannot delete stored file", "file", name, "error", err)
	}
}

// deleteUnreferenced removes the stored files behind urls that no row points to any more
// (URLs of other sites are skipped). The check guards against a file shared by two rows,
// which the API does not create but psql or the seeder could.
func (u *Users) deleteUnreferenced(ctx context.Context, urls []string) {
	var ours []string
	for _, url := range urls {
		if _, ok := u.Store.NameFromURL(url); ok {
			ours = append(ours, url)
		}
	}
	if len(ours) == 0 {
		return
	}
	var used []string
	if err := u.DB.WithContext(context.WithoutCancel(ctx)).Raw(`SELECT avatar FROM users WHERE avatar IN ?
		UNION SELECT video_url FROM videos WHERE video_url IN ?
		UNION SELECT thumbnail_url FROM videos WHERE thumbnail_url IN ?`, ours, ours, ours).Scan(&used).Error; err != nil {
		if u.Log != nil {
			u.Log.WarnContext(ctx, "cannot check stored files before deleting them", "error", err)
		}
		return
	}
	for _, url := range ours {
		if !slices.Contains(used, url) {
			name, _ := u.Store.NameFromURL(url)
			u.deleteFile(ctx, name)
		}
	}
}

// Delete answers DELETE /api/users/:id (self only). The database cascades to everything of the
// user (videos, comments, likes, follows, refresh tokens) and the counter triggers keep other
// users' counts exact; the user's stored files are removed after the commit.
func (u *Users) Delete(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return middleware.Forbidden("You can only delete your own account")
	}
	ctx := c.Request.Context()
	var urls []string
	err = transact(ctx, u.DB, func(tx *gorm.DB) error {
		urls = urls[:0]
		if err := tx.Raw(`SELECT avatar FROM users WHERE id = ? AND avatar IS NOT NULL
			UNION ALL SELECT video_url FROM videos WHERE user_id = ?
			UNION ALL SELECT thumbnail_url FROM videos WHERE user_id = ? AND thumbnail_url IS NOT NULL`,
			id, id, id).Scan(&urls).Error; err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM users WHERE id = ?`, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return middleware.NotFound("User not found")
		}
		return nil
	})
	if err != nil {
		return err
	}
	u.deleteUnreferenced(ctx, urls)
	c.JSON(http.StatusOK, gin.H{"message": "User deleted successfully"})
	return nil
}
