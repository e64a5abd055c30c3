package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"tiktok/models"
)

// Media reads and writes what the media pipeline needs of videos (API.md, "Media
// processing"): the file a job works on, and the outcome of the job.
type Media struct {
	db *gorm.DB
}

// Media is the store of the media pipeline.
func (s *Store) Media() *Media { return &Media{db: s.db} }

// SQLTx is the database/sql transaction the store runs in, for a job queue that enqueues in
// it (the job commits with the row it is about, or not at all); false outside a transaction.
func (s *Store) SQLTx() (*sql.Tx, bool) {
	tx, ok := s.db.Statement.ConnPool.(*sql.Tx)
	return tx, ok
}

// ErrVideoGone is the answer of the media store for a video deleted (or whose file was
// replaced) while a job worked on it.
var ErrVideoGone = errors.New("video gone")

// ProcessingTarget is the video a job works on.
type ProcessingTarget struct {
	ID                   int32
	Status               string
	VideoStoragePath     *string
	ThumbnailURL         *string
	ThumbnailStoragePath *string
}

// Target reads video id for a job; ErrVideoGone when it is missing.
func (s *Media) Target(ctx context.Context, id int32) (ProcessingTarget, error) {
	var rows []ProcessingTarget
	err := s.db.WithContext(ctx).Raw(`SELECT id, status, video_storage_path, thumbnail_url, thumbnail_storage_path
		FROM videos WHERE id = ?`, id).Find(&rows).Error
	if err != nil {
		return ProcessingTarget{}, translate(err)
	}
	if len(rows) == 0 {
		return ProcessingTarget{}, ErrVideoGone
	}
	return rows[0], nil
}

// pendingOutputTTL is how long a job's stored output may wait for its commit before the sweep
// deletes it: a worker killed between storing a file and committing the row that points at it
// leaves nothing for longer. Longer than any job (MEDIA_JOB_TIMEOUT).
const pendingOutputTTL = 2 * time.Hour

// NotePending notes stored outputs of a job not yet pointed at by any row: the sweep deletes
// them after pendingOutputTTL unless Finish, committing the row that takes them, forgets them
// first.
func (s *Media) NotePending(ctx context.Context, paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Exec(`INSERT INTO storage_deletes (storage_path, retry_at, attempts)
		SELECT p, now() + make_interval(secs => ?), 0 FROM unnest(?::text[]) AS p
		ON CONFLICT (storage_path) DO UPDATE SET retry_at = EXCLUDED.retry_at`,
		pendingOutputTTL.Seconds(), pgTextArray(paths)).Error)
}

// Outcome is what a job made of a video.
type Outcome struct {
	Duration      float64
	Width, Height int32
	// Video replaces the video's file when set (a rendition, or the file with its index first).
	Video *models.Video // VideoURL and VideoStoragePath are read
	// Cover is the cover image made for a video without a thumbnail, when set.
	Cover *models.Video // ThumbnailURL and ThumbnailStoragePath are read
}

// OldFileGrace is how long a replaced video file stays in the store after the row stops
// pointing at it: a viewer who started playing it a moment before keeps playing.
const OldFileGrace = 10 * time.Minute

// Finish applies o to video id if it still has the file the job worked on (sourcePath) and
// sets it ready, in one transaction: the new files stop being pending, the replaced file is
// noted for the sweep after OldFileGrace. ErrVideoGone when the video was deleted or its file
// changed meanwhile; the caller then deletes the outputs.
func (s *Media) Finish(ctx context.Context, id int32, sourcePath string, o Outcome) error {
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		var rows []ProcessingTarget
		if err := tx.Raw(`SELECT id, status, video_storage_path, thumbnail_url, thumbnail_storage_path
			FROM videos WHERE id = ? FOR NO KEY UPDATE`, id).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 || rows[0].VideoStoragePath == nil || *rows[0].VideoStoragePath != sourcePath {
			return ErrVideoGone
		}
		updates := map[string]any{"status": "ready", "status_reason": nil, "duration": o.Duration,
			"width": o.Width, "height": o.Height}
		var taken []string
		if o.Video != nil {
			updates["video_url"], updates["video_storage_path"] = o.Video.VideoURL, o.Video.VideoStoragePath
			taken = append(taken, *o.Video.VideoStoragePath)
		}
		if o.Cover != nil && rows[0].ThumbnailURL == nil {
			updates["thumbnail_url"], updates["thumbnail_storage_path"] = o.Cover.ThumbnailURL, o.Cover.ThumbnailStoragePath
			taken = append(taken, *o.Cover.ThumbnailStoragePath)
		}
		if err := tx.Model(&models.Video{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		if len(taken) > 0 {
			if err := tx.Exec(`DELETE FROM storage_deletes WHERE storage_path IN ?`, taken).Error; err != nil {
				return err
			}
		}
		if o.Video == nil {
			return nil
		}
		return tx.Exec(`INSERT INTO storage_deletes (storage_path, retry_at, attempts)
			VALUES (?, now() + make_interval(secs => ?), 0)
			ON CONFLICT (storage_path) DO UPDATE SET retry_at = EXCLUDED.retry_at`, sourcePath, OldFileGrace.Seconds()).Error
	}))
}

// Fail sets video id failed with reason (for its owner), unless it is ready already (a job
// that only tidies a ready video leaves it playing as it is). A missing video is no error.
func (s *Media) Fail(ctx context.Context, id int32, reason string) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE videos SET status = 'failed', status_reason = ?
		WHERE id = ? AND status = 'processing'`, reason, id).Error)
}

// Forget drops the pending notes of outputs the caller deleted itself.
func (s *Media) Forget(ctx context.Context, paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Exec(`DELETE FROM storage_deletes WHERE storage_path IN ?`, paths).Error)
}

// pgTextArray renders paths as a PostgreSQL text[] literal.
func pgTextArray(paths []string) string {
	out := []byte{'{'}
	for i, p := range paths {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		for _, c := range []byte(p) {
			if c == '"' || c == '\\' {
				out = append(out, '\\')
			}
			out = append(out, c)
		}
		out = append(out, '"')
	}
	return string(append(out, '}'))
}
