package controllers

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/models"
	"tiktok/storage"
	"tiktok/store"
)

// Users serves the user profiles and lists (Prisma version: src/controllers/userController.js).
type Users struct {
	Store *store.Store
	Files *StoredFiles
}

// MaxAvatarBytes caps an uploaded avatar, like a video thumbnail (API.md, uploads).
const MaxAvatarBytes = 5 << 20

// List answers GET /api/users: a bare array of users, newest first (so the frontend's
// "Discover users" page, which sends no limit, shows the people who have just joined),
// filtered by a prefix of username or name when ?search= is given, at most ?limit= of them
// (default 10), ?page= for the offset.
func (u *Users) List(c *gin.Context) error {
	limit, err := ParseLimit(c)
	if err != nil {
		return err
	}
	page, err := ParsePage(c)
	if err != nil {
		return err
	}
	search := strings.TrimSpace(c.Query("search"))
	if utf8.RuneCountInString(search) > maxSearchChars {
		return errs.InvalidField("search", "must be at most 100 characters")
	}
	users, err := u.Store.Users.List(c.Request.Context(), middleware.Viewer(c), search, limit, max(page, 1))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, users)
	return nil
}

// Get answers GET /api/users/:id: the profile, with isFollowing for the viewer and the
// e-mail when the viewer is that user.
func (u *Users) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	profile, err := u.Store.Users.Profile(c.Request.Context(), middleware.Viewer(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, profile)
	return nil
}

// Me answers GET /api/users/me: the caller's own profile, with the e-mail.
func (u *Users) Me(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	profile, err := u.Store.Users.Profile(c.Request.Context(), viewer, viewer)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, profile)
	return nil
}

// profileInput is everything a client may change in a profile; nothing else is read from the
// body (no id, username, e-mail, password or counters: that is the mass-assignment guard).
type profileInput struct {
	Name   optionalText `json:"name"`
	Bio    optionalText `json:"bio"`
	Avatar optionalText `json:"avatar"`
	// AvatarStoragePath registers a direct upload as the avatar (JSON only).
	AvatarStoragePath *string `json:"avatarStoragePath"`
}

// Update answers PUT /api/users/:id (self only): JSON {name?, bio?, avatar?} with avatar a
// URL, or {avatarStoragePath} registering a direct upload, or multipart with the same text
// fields and avatar an image file. The old avatar's file goes once the new one is committed; a
// failed request leaves no new file behind.
func (u *Users) Update(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return errs.Forbidden("You can only edit your own profile")
	}
	ctx := c.Request.Context()
	in, uploaded, err := u.readProfile(c)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			u.Files.remove(ctx, uploaded)
		}
	}()
	update, err := u.profileUpdate(in, uploaded)
	if err != nil {
		return err
	}
	direct := in.AvatarStoragePath
	if direct != nil {
		if err := u.Files.checkDirect(ctx, viewer, "avatarStoragePath", "avatar", *direct); err != nil {
			return err
		}
		url := u.Files.Uploads.URL(*direct)
		update.Avatar, update.AvatarStoragePath = store.TextChange{Set: true, Value: &url}, direct
	}
	var oldAvatar *store.StoredFile
	var after *models.User
	err = u.Store.Transact(ctx, func(tx *store.Store) error {
		if direct != nil {
			if err := register(ctx, tx, viewer, "avatarStoragePath", "avatar", *direct); err != nil {
				return err
			}
		}
		oldAvatar, after, err = tx.Users.UpdateProfile(ctx, id, update)
		return err
	})
	if err != nil {
		return err
	}
	committed = true
	if oldAvatar != nil && (after.Avatar == nil || *after.Avatar != oldAvatar.URL) {
		u.Files.deleteUnreferenced(ctx, []store.StoredFile{*oldAvatar})
	}
	c.JSON(http.StatusOK, u.Store.Users.ProfileOf(after, viewer, false))
	return nil
}

// readProfile reads the profile edit from JSON or from a multipart form, whose avatar file,
// if any, is stored at once.
func (u *Users) readProfile(c *gin.Context) (profileInput, map[string]storage.Object, error) {
	var in profileInput
	if !strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/") {
		return in, nil, middleware.BindJSON(c, &in)
	}
	uploaded, err := u.Files.read(c, uploadForm{
		fileFields: map[string]fileField{"avatar": {folder: storage.AvatarsFolder, limit: MaxAvatarBytes}},
		textFields: map[string]*optionalText{"name": &in.Name, "bio": &in.Bio, "avatar": &in.Avatar},
	})
	return in, uploaded, err
}

// profileUpdate checks the edit and turns it into the store's update. An uploaded avatar wins
// over a text one. A text avatar is an http(s) URL, or "" / null to clear it, or a URL into our
// own storage (as a profile form sends back the avatar it shows), which may only be the
// current avatar (the store checks that, on the form rows keep).
func (u *Users) profileUpdate(in profileInput, uploaded map[string]storage.Object) (store.ProfileUpdate, error) {
	var problems errs.Problems
	update := store.ProfileUpdate{Name: in.Name.cleaned(), Bio: in.Bio.cleaned(), Avatar: in.Avatar.cleaned()}
	checkLength("name", update.Name.Value, maxNameChars, &problems)
	checkLength("bio", update.Bio.Value, maxBioChars, &problems)
	if in.AvatarStoragePath != nil && (update.Avatar.Set || len(uploaded) > 0) {
		problems.Add("avatarStoragePath", "cannot come with an avatar: send one or the other")
	}
	if file, ok := uploaded["avatar"]; ok {
		update.Avatar = store.TextChange{Set: true, Value: &file.URL}
		update.AvatarStoragePath = &file.Name
	} else if v := update.Avatar.Value; v != nil {
		if stored, own := u.Files.Media.Own(*v); own {
			update.Avatar.Value = &stored
			update.AvatarMustBeCurrent = true
		} else {
			checkURL("avatar", v, &problems)
		}
	}
	return update, problems.Err()
}

// Delete answers DELETE /api/users/:id (self only). Everything of the user goes with it (the
// database cascades), and the user's stored files are removed after the commit.
func (u *Users) Delete(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return errs.Forbidden("You can only delete your own account")
	}
	urls, err := u.Store.Users.Delete(c.Request.Context(), id)
	if err != nil {
		return err
	}
	u.Files.deleteUnreferenced(c.Request.Context(), urls)
	c.JSON(http.StatusOK, gin.H{"message": "User deleted successfully"})
	return nil
}
