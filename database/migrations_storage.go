package database

import "gorm.io/gorm"

// --- 202611300001_storage_paths --------------------------------------------------------------
// Where a stored file lives in the store of uploads, beside the URL clients fetch it from: the
// course's cloud-storage practical keeps `videoStoragePath` / `thumbnailStoragePath` the same
// way. The path is what a delete, the sweep and `storage migrate` work from; the URL can move
// (another PUBLIC_BASE_URL, a CDN) while the path stays. NULL for files hosted elsewhere.
//
// uploads is the ledger of direct uploads (API.md, "Direct uploads"): one row per signed PUT,
// written before the URL is handed out. Registering a path sets registered_at, once; rows
// never registered are swept (their objects deleted) a day after they were signed. Rows are
// kept after registration, so a path cannot be registered twice even once its video is gone.
// user_id has no foreign key on purpose: a user deleted before the sweep still has their
// unregistered objects swept.
//
// storage_deletes holds the stored files to delete (again) once retry_at has passed: those whose
// delete failed after their row was gone (storage briefly down), so a failed delete costs a log
// line, never a 500 and never a file kept forever; and the direct uploads deleted while their
// signed PUT URL still worked, deleted once more after it expired, since a replay of that URL
// could have put the object back.

func addStoragePaths(tx *gorm.DB) error {
	return execAll(tx,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS video_storage_path text`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS thumbnail_storage_path text`,
		`ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar_storage_path text`,
		`CREATE TABLE IF NOT EXISTS uploads (
			storage_path text NOT NULL,
			user_id integer NOT NULL,
			kind text NOT NULL,
			content_type text NOT NULL,
			size bigint NOT NULL,
			created_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			expires_at timestamp(3) NOT NULL,
			registered_at timestamp(3),
			CONSTRAINT uploads_pkey PRIMARY KEY (storage_path),
			CONSTRAINT uploads_kind_check CHECK (kind IN ('video', 'thumbnail', 'avatar')),
			CONSTRAINT uploads_size_check CHECK (size > 0)
		)`,
		`CREATE INDEX IF NOT EXISTS uploads_unregistered_created_at_idx ON uploads (created_at) WHERE registered_at IS NULL`,
		`CREATE TABLE IF NOT EXISTS storage_deletes (
			storage_path text NOT NULL,
			retry_at timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
			attempts integer NOT NULL DEFAULT 1,
			CONSTRAINT storage_deletes_pkey PRIMARY KEY (storage_path)
		)`,
	)
}

func dropStoragePaths(tx *gorm.DB) error {
	return execAll(tx,
		`DROP TABLE IF EXISTS storage_deletes`,
		`DROP TABLE IF EXISTS uploads`,
		`ALTER TABLE users DROP COLUMN IF EXISTS avatar_storage_path`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS thumbnail_storage_path`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS video_storage_path`,
	)
}
