package controllers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/middleware"
	"tiktok/models"
	"tiktok/storage"
)

// Videos serves videos, the feeds and video likes (Prisma version:
// src/controllers/videoController.js).
type Videos struct {
	DB    *gorm.DB
	Store storage.Store
	Log   *slog.Logger
	// MaxVideoBytes caps an uploaded video (MAX_VIDEO_MB).
	MaxVideoBytes int64
}

// Upload and field limits of videos. API.md fixes the thumbnail cap; the text limits are ours
// (TikTok's caption limit, and the URL length browsers handle everywhere).
const (
	MaxThumbnailBytes = 5 << 20
	maxCaptionChars   = 2200
	maxAudioNameChars = 200
	maxURLChars       = 2048
)

// videoInput is what a client may set on a video; nothing else is read (no userId, views or
// counts: the mass-assignment guard).
type videoInput struct {
	VideoURL     *string      `json:"videoUrl"`
	ThumbnailURL *string      `json:"thumbnailUrl"`
	Caption      optionalText `json:"caption"`
	AudioName    optionalText `json:"audioName"`
}

func checkText(field string, s *string, maxChars int, errs map[string]string) {
	if s != nil && utf8.RuneCountInString(*s) > maxChars {
		errs[field] = "must be at most " + strconv.Itoa(maxChars) + " characters"
	}
}

// checkRemoteURL accepts only absolute http(s) URLs. A JSON-created video may not point into
// /uploads/: deleting the video would then delete a file that belongs to someone else.
func checkRemoteURL(field string, s *string, errs map[string]string) {
	if s == nil {
		return
	}
	if len(*s) > maxURLChars {
		errs[field] = "must be at most 2048 characters"
		return
	}
	u, err := url.Parse(*s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs[field] = "must be an http(s) URL"
	}
}

// Create answers POST /api/videos: multipart with a `video` file (and optionally a
// `thumbnail` image, `caption`, `audioName`), or JSON with a videoUrl. A request that fails
// leaves no stored file and no row behind.
func (v *Videos) Create(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var in videoInput
	var saved []storage.Object
	committed := false
	defer func() {
		if !committed {
			for _, o := range saved {
				v.files().deleteFile(ctx, o.Name)
			}
		}
	}()
	errs := map[string]string{}
	if strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/") {
		saved, err = v.readVideoMultipart(c, &in)
		if err != nil {
			return err
		}
	} else {
		if err := middleware.BindJSON(c, &in); err != nil {
			return err
		}
		in.VideoURL, in.ThumbnailURL = cleanText(in.VideoURL), cleanText(in.ThumbnailURL)
		if in.VideoURL == nil {
			errs["videoUrl"] = "is required (or upload a video file as multipart form data)"
		}
		checkRemoteURL("videoUrl", in.VideoURL, errs)
		checkRemoteURL("thumbnailUrl", in.ThumbnailURL, errs)
	}
	caption, audio := cleanText(in.Caption.Value), cleanText(in.AudioName.Value)
	checkText("caption", caption, maxCaptionChars, errs)
	checkText("audioName", audio, maxAudioNameChars, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}

	video := models.Video{UserID: viewer, VideoURL: *in.VideoURL, ThumbnailURL: in.ThumbnailURL,
		Caption: caption, AudioName: audio}
	if err := v.DB.WithContext(ctx).Create(&video).Error; err != nil {
		return err
	}
	committed = true
	view, err := v.load(c, video.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, view)
	return nil
}

// readVideoMultipart streams the form: file parts straight into the store (never whole in
// memory), text fields into in. It returns what it stored, for the caller to remove if the
// request fails later; on its own failure it removes them itself.
func (v *Videos) readVideoMultipart(c *gin.Context, in *videoInput) ([]storage.Object, error) {
	ctx := c.Request.Context()
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, middleware.Invalid("invalid_multipart", "Request body is not a valid multipart form")
	}
	var saved []storage.Object
	fail := func(err error) ([]storage.Object, error) {
		for _, o := range saved {
			v.files().deleteFile(ctx, o.Name)
		}
		return nil, err
	}
	var videoFile, thumbFile bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var maxBytes *http.MaxBytesError
			if errors.As(err, &maxBytes) {
				return fail(middleware.TooLarge("The upload is too large"))
			}
			return fail(middleware.Invalid("invalid_multipart", "Request body is not a valid multipart form"))
		}
		field := part.FormName()
		switch {
		case (field == "video" || field == "thumbnail") && part.FileName() != "":
			kind, limit, seen := storage.Video, v.MaxVideoBytes, &videoFile
			if field == "thumbnail" {
				kind, limit, seen = storage.Image, MaxThumbnailBytes, &thumbFile
			}
			if *seen {
				return fail(middleware.ValidationFailed(map[string]string{field: "must be sent once"}))
			}
			obj, err := v.Store.Save(ctx, part, kind, limit)
			if err != nil {
				var maxBytes *http.MaxBytesError
				if errors.As(err, &maxBytes) {
					return fail(middleware.TooLarge("The upload is too large"))
				}
				return fail(storageError(err, field))
			}
			saved = append(saved, obj)
			*seen = true
			url := obj.URL
			if field == "video" {
				in.VideoURL = &url
			} else {
				in.ThumbnailURL = &url
			}
		case field == "caption" || field == "audioName":
			b, err := io.ReadAll(io.LimitReader(part, maxTextPart+1))
			if err != nil {
				return fail(err)
			}
			if len(b) > maxTextPart {
				return fail(middleware.ValidationFailed(map[string]string{field: "is too long"}))
			}
			s := string(b)
			if field == "caption" {
				in.Caption = optionalText{Set: true, Value: &s}
			} else {
				in.AudioName = optionalText{Set: true, Value: &s}
			}
		}
		// Other fields (a videoUrl text field included) are ignored: an upload's URL is the
		// stored file's.
	}
	if !videoFile {
		return fail(middleware.ValidationFailed(map[string]string{"video": "is required: a video file (mp4, webm or quicktime)"}))
	}
	return saved, nil
}

// Get answers GET /api/videos/:id and counts one view: the increment and the read are one
// statement, so concurrent views are never lost.
func (v *Videos) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	rows, err := queryVideos(v.DB.WithContext(c.Request.Context()), false, `WITH v AS (
			UPDATE videos SET views = views + 1 WHERE id = ? RETURNING *)
		SELECT `+videoColumns+` FROM v JOIN users u ON u.id = v.user_id`, id)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return middleware.NotFound("Video not found")
	}
	views, err := videoViews(c, v.DB, rows)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, views[0])
	return nil
}

// load reads one video as the viewer sees it, without counting a view.
func (v *Videos) load(c *gin.Context, id int32) (VideoView, error) {
	rows, err := queryVideos(v.DB.WithContext(c.Request.Context()), false,
		`SELECT `+videoColumns+` FROM `+videosWithAuthor+` WHERE v.id = ?`, id)
	if err != nil {
		return VideoView{}, err
	}
	if len(rows) == 0 {
		return VideoView{}, middleware.NotFound("Video not found")
	}
	views, err := videoViews(c, v.DB, rows)
	if err != nil {
		return VideoView{}, err
	}
	return views[0], nil
}

// videoOwner locks the video row and returns its owner and files; 404 when it is missing.
func videoOwner(tx *gorm.DB, id int32) (models.Video, error) {
	var rows []models.Video
	if err := tx.Raw(`SELECT id, user_id, video_url, thumbnail_url FROM videos WHERE id = ? FOR UPDATE`, id).
		Scan(&rows).Error; err != nil {
		return models.Video{}, err
	}
	if len(rows) == 0 {
		return models.Video{}, middleware.NotFound("Video not found")
	}
	return rows[0], nil
}

// Update answers PUT /api/videos/:id (owner only): {caption?, audioName?}; null or "" clears.
func (v *Videos) Update(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	var in struct {
		Caption   optionalText `json:"caption"`
		AudioName optionalText `json:"audioName"`
	}
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	updates := map[string]any{}
	errs := map[string]string{}
	if in.Caption.Set {
		s := cleanText(in.Caption.Value)
		checkText("caption", s, maxCaptionChars, errs)
		updates["caption"] = s
	}
	if in.AudioName.Set {
		s := cleanText(in.AudioName.Value)
		checkText("audioName", s, maxAudioNameChars, errs)
		updates["audio_name"] = s
	}
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}
	err = transact(c.Request.Context(), v.DB, func(tx *gorm.DB) error {
		video, err := videoOwner(tx, id)
		if err != nil {
			return err
		}
		if video.UserID != viewer {
			return middleware.Forbidden("You can only edit your own videos")
		}
		if len(updates) == 0 {
			return nil
		}
		updates["updated_at"] = time.Now().UTC()
		return tx.Model(&models.Video{}).Where("id = ?", id).Updates(updates).Error
	})
	if err != nil {
		return err
	}
	view, err := v.load(c, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view)
	return nil
}

// Delete answers DELETE /api/videos/:id (owner only). Likes and comments go by cascade and
// the triggers settle the author's counters; the stored files are removed after the commit,
// so a rolled-back delete never loses a file.
func (v *Videos) Delete(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var video models.Video
	err = transact(ctx, v.DB, func(tx *gorm.DB) error {
		video, err = videoOwner(tx, id)
		if err != nil {
			return err
		}
		if video.UserID != viewer {
			return middleware.Forbidden("You can only delete your own videos")
		}
		return tx.Exec(`DELETE FROM videos WHERE id = ?`, id).Error
	})
	if err != nil {
		return err
	}
	urls := []string{video.VideoURL}
	if video.ThumbnailURL != nil {
		urls = append(urls, *video.ThumbnailURL)
	}
	v.files().deleteUnreferenced(ctx, urls)
	c.JSON(http.StatusOK, gin.H{"message": "Video deleted successfully"})
	return nil
}

// files borrows the users controller's file removal: deleteFile (a failure leaves an orphan
// file, logged) and deleteUnreferenced (only files no row points to any more).
func (v *Videos) files() *Users { return &Users{DB: v.DB, Store: v.Store, Log: v.Log} }

// Like answers POST /api/videos/:id/like. Likes are a set: liking twice keeps one row and
// answers the same; the trigger on video_likes moves the counters.
func (v *Videos) Like(c *gin.Context) error { return answerLike(c, v.DB, videoLikes, true) }

// Unlike answers DELETE /api/videos/:id/like, idempotent like Like.
func (v *Videos) Unlike(c *gin.Context) error { return answerLike(c, v.DB, videoLikes, false) }

// Likers answers GET /api/videos/:id/likes: who liked the video, newest like first, keyset on
// the like's (created_at, user_id) through video_likes_video_id_created_at_idx. A bare
// numeric cursor is a user id of the list.
func (v *Videos) Likers(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	req, err := ParsePageRequest(c)
	if err != nil {
		return err
	}
	db := v.DB.WithContext(c.Request.Context())
	var found []int32
	if err := db.Raw(`SELECT id FROM videos WHERE id = ?`, id).Scan(&found).Error; err != nil {
		return err
	}
	if len(found) == 0 {
		return middleware.NotFound("Video not found")
	}
	return listJoinedUsers(c, db, joinTable{name: "video_likes", ownCol: "video_id", userCol: "user_id"}, id, req, "users")
}
