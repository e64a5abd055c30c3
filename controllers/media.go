package controllers

import (
	"context"
	"database/sql"
	"errors"
	"path"
	"time"

	"tiktok/errs"
	"tiktok/jobs"
	"tiktok/media"
	"tiktok/models"
	"tiktok/storage"
)

// MediaPipeline checks an uploaded video within the request and enqueues its job (API.md,
// "Media processing"). A nil pipeline is a machine without ffmpeg: uploads are published as
// they are.
type MediaPipeline struct {
	Tools media.Tools
	// MaxSeconds caps a video's duration (MAX_VIDEO_SECONDS).
	MaxSeconds float64
	// Jobs enqueues a video's job in the transaction that inserts it.
	Jobs interface {
		EnqueueTx(ctx context.Context, tx *sql.Tx, videoID int32) error
	}
}

// probeSourceTTL is how long the signed URL of an object probed within a request stays valid.
const probeSourceTTL = 5 * time.Minute

// check probes the stored video called name (the file of field) and fills in what it found:
// its duration and size, and its status (ready when browsers play it as it is, processing
// until its rendition is stored). A file that is not a playable video is refused: 415, or 400
// for one too long. needsJob says whether a job has work to do on it: a rendition, a cover
// (the video has no thumbnail) or moving an MP4's index to the front.
func (m *MediaPipeline) check(ctx context.Context, uploads storage.Store, field, name string, video *models.Video) (needsJob bool, err error) {
	src, err := storage.Source(ctx, uploads, name, probeSourceTTL)
	if err != nil {
		return false, storageError(err)
	}
	info, err := m.Tools.Probe(ctx, src, m.MaxSeconds)
	var refusal *media.Refusal
	switch {
	case errors.As(err, &refusal) && refusal.TooLong:
		return false, errs.InvalidField(field, refusal.Reason)
	case errors.As(err, &refusal):
		return false, errs.UnsupportedMedia(refusal.Reason)
	case err != nil:
		return false, errs.Unavailable("The video cannot be checked right now, please retry", err)
	}
	video.Duration, video.Width, video.Height = &info.Duration, &info.Width, &info.Height
	ext := path.Ext(name)[1:]
	video.Status = "ready"
	if !info.WebPlayable(ext) {
		video.Status = "processing"
		return true, nil
	}
	if video.ThumbnailURL == nil {
		return true, nil
	}
	if ext != "mp4" {
		return false, nil
	}
	// The index's place is read here (a few box headers), so a video whose index is already
	// first costs no job.
	faststart, err := jobs.NeedsFaststart(ctx, uploads, name)
	if err != nil {
		return false, storageError(err)
	}
	return faststart, nil
}
