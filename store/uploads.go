package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
)

// Uploads is the ledger of direct uploads (table uploads) and the list of stored files whose
// delete failed (storage_deletes). The objects themselves are the store of uploads' business:
// methods that delete objects take the delete as a function, so this package never knows
// storage and a row and its object go in the order the caller's safety needs.
type Uploads struct {
	db *gorm.DB
}

// ErrUploadTaken is Register's answer for a path some other request registered first.
var ErrUploadTaken = errors.New("store: the upload is registered already")

// Reserve writes the ledger row of a direct upload before its URL is handed out, so that an
// object can never exist without a row that gets it swept.
func (s *Uploads) Reserve(ctx context.Context, u *models.Upload) error {
	return translate(s.db.WithContext(ctx).Create(u).Error)
}

// Find returns the upload at path signed for user as kind: NotFound when there is none, so
// another user's path and an unknown one get the same answer.
func (s *Uploads) Find(ctx context.Context, path string, user int32, kind string) (models.Upload, error) {
	var rows []models.Upload
	err := s.db.WithContext(ctx).Where("storage_path = ? AND user_id = ? AND kind = ?", path, user, kind).
		Limit(1).Find(&rows).Error
	if err != nil {
		return models.Upload{}, translate(err)
	}
	if len(rows) == 0 {
		return models.Upload{}, errs.NotFound("Upload not found")
	}
	return rows[0], nil
}

// Register marks the upload at path registered, once: of any number of concurrent
// registrations exactly one updates the row (the others wait on its lock, then find
// registered_at set) and the rest get ErrUploadTaken, as does a path never reserved. Run it in
// the transaction that writes the row using the path, so both commit or neither does.
func (s *Uploads) Register(ctx context.Context, path string, user int32, kind string) (models.Upload, error) {
	var rows []models.Upload
	err := s.db.WithContext(ctx).Raw(`UPDATE uploads SET registered_at = now()
		WHERE storage_path = ? AND user_id = ? AND kind = ? AND registered_at IS NULL
		RETURNING storage_path, user_id, kind, content_type, size, created_at, expires_at, registered_at`,
		path, user, kind).Find(&rows).Error
	if err != nil {
		return models.Upload{}, translate(err)
	}
	if len(rows) == 0 {
		return models.Upload{}, ErrUploadTaken
	}
	return rows[0], nil
}

// Forget removes the row of an unregistered upload whose object failed the checks and was
// deleted, once its URL has expired. While the URL still works the row stays: a second PUT
// through it would bring the object back, and the row is what gets that object swept.
func (s *Uploads) Forget(ctx context.Context, path string) error {
	return translate(s.db.WithContext(ctx).Exec(
		`DELETE FROM uploads WHERE storage_path = ? AND registered_at IS NULL AND expires_at < now()`, path).Error)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Deleted int // objects deleted (with their rows)
	Failed  int // objects whose delete failed: their rows stay for the next sweep
}

// sweepBatch is how many rows one transaction of a sweep locks.
const sweepBatch = 100

// SweepUnregistered deletes, through del, the objects of the uploads never registered and
// reserved before cutoff, then their rows; a failed delete leaves its row for the next sweep.
// Each batch runs in a transaction holding its rows with FOR UPDATE SKIP LOCKED, so sweeps
// running at once on several instances take disjoint rows (each object is deleted once),
// and a registration racing the sweep either wins (the row is no longer unregistered) or
// waits and finds the row gone.
func (s *Uploads) SweepUnregistered(ctx context.Context, cutoff time.Time, del func(path string) error) (SweepResult, error) {
	var res SweepResult
	after := ""
	for {
		var paths []string
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			paths = nil
			if err := tx.Raw(`SELECT storage_path FROM uploads
				WHERE registered_at IS NULL AND created_at < ? AND storage_path > ?
				ORDER BY storage_path LIMIT ? FOR UPDATE SKIP LOCKED`, cutoff.UTC(), after, sweepBatch).
				Scan(&paths).Error; err != nil {
				return err
			}
			var done []string
			for _, p := range paths {
				if err := del(p); err != nil {
					res.Failed++
					continue
				}
				done = append(done, p)
			}
			if len(done) == 0 {
				return nil
			}
			res.Deleted += len(done)
			return tx.Exec(`DELETE FROM uploads WHERE storage_path IN ?`, done).Error
		})
		if err != nil {
			return res, translate(err)
		}
		if len(paths) < sweepBatch {
			return res, nil
		}
		after = paths[len(paths)-1]
	}
}

// RecordFailedDelete notes that the stored file at path could not be deleted after its row
// went (storage down); RetryDeletes tries again.
func (s *Uploads) RecordFailedDelete(ctx context.Context, path string) error {
	return translate(s.db.WithContext(ctx).Exec(`INSERT INTO storage_deletes (storage_path) VALUES (?)
		ON CONFLICT (storage_path) DO UPDATE SET attempts = storage_deletes.attempts + 1,
			retry_at = GREATEST(storage_deletes.retry_at, now())`, path).Error)
}

// DeleteAgainAfterExpiry notes, of paths just deleted, the direct uploads whose signed PUT URL
// has not expired yet, to be deleted once more when it has (RetryDeletes): until then a
// replay of the URL can put the object back, and its ledger row, registered, would keep the
// unregistered sweep off it. Other paths are left alone.
func (s *Uploads) DeleteAgainAfterExpiry(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Exec(`INSERT INTO storage_deletes (storage_path, retry_at, attempts)
		SELECT storage_path, expires_at, 0 FROM uploads WHERE storage_path IN ? AND expires_at > now()
		ON CONFLICT (storage_path) DO UPDATE SET retry_at = GREATEST(storage_deletes.retry_at, EXCLUDED.retry_at)`, paths).Error)
}

// RetryDeletes tries again, through del, the deletes noted in storage_deletes whose retry_at
// has passed (RecordFailedDelete, DeleteAgainAfterExpiry): a success removes the note, a
// failure counts one more attempt. Rows are taken with SKIP LOCKED, like
// SweepUnregistered's.
func (s *Uploads) RetryDeletes(ctx context.Context, del func(path string) error) (SweepResult, error) {
	var res SweepResult
	after := ""
	for {
		var paths []string
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			paths = nil
			if err := tx.Raw(`SELECT storage_path FROM storage_deletes WHERE storage_path > ? AND retry_at <= now()
				ORDER BY storage_path LIMIT ? FOR UPDATE SKIP LOCKED`, after, sweepBatch).Find(&paths).Error; err != nil {
				return err
			}
			var done, failed []string
			for _, p := range paths {
				if err := del(p); err != nil {
					failed = append(failed, p)
					continue
				}
				done = append(done, p)
			}
			res.Deleted += len(done)
			res.Failed += len(failed)
			if len(done) > 0 {
				if err := tx.Exec(`DELETE FROM storage_deletes WHERE storage_path IN ?`, done).Error; err != nil {
					return err
				}
			}
			if len(failed) > 0 {
				return tx.Exec(`UPDATE storage_deletes SET attempts = attempts + 1, retry_at = now()
					WHERE storage_path IN ?`, failed).Error
			}
			return nil
		})
		if err != nil {
			return res, translate(err)
		}
		if len(paths) < sweepBatch {
			return res, nil
		}
		after = paths[len(paths)-1]
	}
}
