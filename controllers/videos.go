package controllers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/models"
	"tiktok/storage"
	"tiktok/store"
	"tiktok/viewcount"
)

// Videos serves videos, the feeds and video likes (Prisma version:
// src/controllers/videoController.js).
type Videos struct {
	Store *store.Store
	Files *StoredFiles
	// MaxVideoBytes caps an uploaded video (MAX_VIDEO_MB).
	MaxVideoBytes int64
	// Views counts the reads of GET /api/videos/:id, once per viewer per window, off the
	// request path (nil counts nothing).
	Views *viewcount.Counter
	// Media probes uploaded videos and enqueues their jobs; nil without ffmpeg.
	Media *MediaPipeline
}

// MaxThumbnailBytes caps an uploaded thumbnail (API.md, uploads).
const MaxThumbnailBytes = 5 << 20

// videoInput is what a client may set on a new video; nothing else is read (no userId, views
// or counts: the mass-assignment guard).
type videoInput struct {
	VideoURL     *string      `json:"videoUrl"`
	ThumbnailURL *string      `json:"thumbnailUrl"`
	Caption      optionalText `json:"caption"`
	AudioName    optionalText `json:"audioName"`
	// The storage paths of direct uploads to register (POST /api/uploads), instead of URLs.
	VideoStoragePath     *string `json:"videoStoragePath"`
	ThumbnailStoragePath *string `json:"thumbnailStoragePath"`
}

// Create answers POST /api/videos: multipart with a `video` file (and optionally a
// `thumbnail` image, `caption`, `audioName`), JSON with the videoStoragePath (and optionally
// thumbnailStoragePath) of direct uploads, or JSON with a videoUrl. A request that fails
// leaves no stored file and no row behind; a direct upload it did not register stays
// unregistered (the client may try again; the sweep deletes it a day later).
func (v *Videos) Create(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	in, uploaded, err := v.readVideo(c)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			v.Files.remove(ctx, uploaded)
		}
	}()
	var problems errs.Problems
	caption, audio := cleanText(in.Caption.Value), cleanText(in.AudioName.Value)
	checkLength("caption", caption, maxCaptionChars, &problems)
	checkLength("audioName", audio, maxAudioNameChars, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	video := models.Video{UserID: viewer, Caption: caption, AudioName: audio}
	if in.VideoStoragePath != nil {
		if err := v.checkDirect(ctx, viewer, in); err != nil {
			return err
		}
		in.VideoURL = text(v.Files.Uploads.URL(*in.VideoStoragePath))
		if in.ThumbnailStoragePath != nil {
			in.ThumbnailURL = text(v.Files.Uploads.URL(*in.ThumbnailStoragePath))
		}
	}
	video.VideoURL, video.ThumbnailURL = *in.VideoURL, in.ThumbnailURL
	video.VideoStoragePath, video.ThumbnailStoragePath = in.VideoStoragePath, in.ThumbnailStoragePath
	if obj, ok := uploaded["video"]; ok {
		video.VideoStoragePath = &obj.Name
	}
	if obj, ok := uploaded["thumbnail"]; ok {
		video.ThumbnailStoragePath = &obj.Name
	}
	// A stored video is probed before any row exists: a file that is not a playable video
	// is refused here, and the rest get their status.
	needsJob := false
	if v.Media != nil && video.VideoStoragePath != nil {
		field := "video"
		if in.VideoStoragePath != nil {
			field = "videoStoragePath"
		}
		if needsJob, err = v.Media.check(ctx, v.Files.Uploads, field, *video.VideoStoragePath, &video); err != nil {
			return err
		}
	}
	var view store.VideoView
	err = v.Store.Transact(ctx, func(tx *store.Store) error {
		if in.VideoStoragePath != nil {
			if err := register(ctx, tx, viewer, "videoStoragePath", "video", *in.VideoStoragePath); err != nil {
				return err
			}
		}
		if in.ThumbnailStoragePath != nil {
			if err := register(ctx, tx, viewer, "thumbnailStoragePath", "thumbnail", *in.ThumbnailStoragePath); err != nil {
				return err
			}
		}
		video.ID = 0 // a retried transaction inserts afresh
		var err error
		if view, err = tx.Videos.Create(ctx, &video); err != nil || !needsJob {
			return err
		}
		// The job commits with its video, or neither does.
		sqlTx, ok := tx.SQLTx()
		if !ok {
			return errors.New("videos: the job queue needs a database/sql transaction")
		}
		return v.Media.Jobs.EnqueueTx(ctx, sqlTx, video.ID)
	})
	if err != nil {
		return err
	}
	committed = true
	c.JSON(http.StatusCreated, view)
	return nil
}

// readVideo reads a new video from a multipart form, whose files are stored at once and whose
// URLs become the video's, or from JSON with the URLs of files hosted elsewhere.
func (v *Videos) readVideo(c *gin.Context) (videoInput, map[string]storage.Object, error) {
	var in videoInput
	if !strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/") {
		if err := middleware.BindJSON(c, &in); err != nil {
			return in, nil, err
		}
		var problems errs.Problems
		in.VideoURL, in.ThumbnailURL = cleanText(in.VideoURL), cleanText(in.ThumbnailURL)
		switch {
		case in.VideoStoragePath != nil:
			if in.VideoURL != nil || in.ThumbnailURL != nil {
				problems.Add("videoStoragePath", "cannot come with videoUrl or thumbnailUrl: send paths or URLs")
			}
		case in.ThumbnailStoragePath != nil:
			problems.Add("videoStoragePath", "is required with thumbnailStoragePath")
		case in.VideoURL == nil:
			problems.Add("videoUrl", "is required (or upload a video file as multipart form data)")
		}
		v.Files.checkNotOwn("videoUrl", in.VideoURL, &problems)
		v.Files.checkNotOwn("thumbnailUrl", in.ThumbnailURL, &problems)
		checkURL("videoUrl", in.VideoURL, &problems)
		checkURL("thumbnailUrl", in.ThumbnailURL, &problems)
		return in, nil, problems.Err()
	}
	// A videoUrl text field is ignored: an upload's URL is the stored file's.
	uploaded, err := v.Files.read(c, uploadForm{
		fileFields: map[string]fileField{
			"video":     {folder: storage.VideosFolder, limit: v.MaxVideoBytes},
			"thumbnail": {folder: storage.ThumbnailsFolder, limit: MaxThumbnailBytes},
		},
		textFields: map[string]*optionalText{"caption": &in.Caption, "audioName": &in.AudioName},
	})
	if err != nil {
		return in, nil, err
	}
	video, ok := uploaded["video"]
	if !ok {
		v.Files.remove(c.Request.Context(), uploaded)
		return in, nil, errs.InvalidField("video", "is required: a video file (mp4, webm or quicktime)")
	}
	in.VideoURL = &video.URL
	if thumb, ok := uploaded["thumbnail"]; ok {
		in.ThumbnailURL = &thumb.URL
	}
	return in, uploaded, nil
}

// checkDirect checks the direct uploads a new video registers (StoredFiles.checkDirect).
func (v *Videos) checkDirect(ctx context.Context, viewer int32, in videoInput) error {
	if err := v.Files.checkDirect(ctx, viewer, "videoStoragePath", "video", *in.VideoStoragePath); err != nil {
		return err
	}
	if in.ThumbnailStoragePath == nil {
		return nil
	}
	return v.Files.checkDirect(ctx, viewer, "thumbnailStoragePath", "thumbnail", *in.ThumbnailStoragePath)
}

func text(s string) *string { return &s }

// Get answers GET /api/videos/:id and records a view of it: the first of this viewer (the
// user, or the client address and user agent) in the window counts, within a few seconds,
// and the answer waits for no write (package viewcount).
func (v *Videos) Get(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	viewer := middleware.Viewer(c)
	view, err := v.Store.Videos.Get(c.Request.Context(), viewer, id)
	if err != nil {
		return err
	}
	if viewer != 0 {
		v.Views.Record(id, viewcount.UserViewer(viewer))
	} else {
		v.Views.Record(id, viewcount.AnonymousViewer(c.ClientIP(), c.Request.UserAgent()))
	}
	c.JSON(http.StatusOK, view)
	return nil
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
	update := store.VideoUpdate{Caption: in.Caption.cleaned(), AudioName: in.AudioName.cleaned()}
	var problems errs.Problems
	checkLength("caption", update.Caption.Value, maxCaptionChars, &problems)
	checkLength("audioName", update.AudioName.Value, maxAudioNameChars, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := v.Store.Videos.Update(ctx, viewer, id, update); err != nil {
		return err
	}
	view, err := v.Store.Videos.Get(ctx, viewer, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, view)
	return nil
}

// Delete answers DELETE /api/videos/:id (owner only). Likes and comments go with it; the
// stored files are removed after the commit.
func (v *Videos) Delete(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	urls, err := v.Store.Videos.Delete(c.Request.Context(), viewer, id)
	if err != nil {
		return err
	}
	v.Files.deleteUnreferenced(c.Request.Context(), urls)
	c.JSON(http.StatusOK, gin.H{"message": "Video deleted successfully"})
	return nil
}

// Like answers POST /api/videos/:id/like; the trigger on video_likes moves the counters.
func (v *Videos) Like(c *gin.Context) error {
	return setLike(c, v.Store, store.VideoLikes, "Video", true)
}

// Unlike answers DELETE /api/videos/:id/like, idempotent like Like.
func (v *Videos) Unlike(c *gin.Context) error {
	return setLike(c, v.Store, store.VideoLikes, "Video", false)
}

// Likers answers GET /api/videos/:id/likes: who liked the video, newest like first.
func (v *Videos) Likers(c *gin.Context) error {
	return userList(c, "users", v.Store.Likes.VideoLikers)
}
