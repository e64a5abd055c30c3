package database

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/gorm"
)

// --- 202611300040_media ----------------------------------------------------------------------
// The media pipeline (API.md, "Media processing"): a video's status, why it failed (shown to
// its owner only), and what ffprobe found. Existing rows were published as they are, so they
// are 'ready'; duration, width and height stay NULL until a file is probed, and for videos
// given by URL. status_reason is set only with status 'failed'.
//
// No partial index WHERE status = 'ready': almost every row is ready (processing lasts seconds
// and failed videos are few), so the feed, tag and sound lists walk their existing keyset
// indexes and drop the rare other row as a filter; a partial copy of each index would double
// the writes for nothing (docs/performance.md, "Media pipeline", with the plans).

func addMedia(tx *gorm.DB) error {
	return execAll(tx,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'ready'`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS status_reason text`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS duration double precision`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS width integer`,
		`ALTER TABLE videos ADD COLUMN IF NOT EXISTS height integer`,
		`ALTER TABLE videos DROP CONSTRAINT IF EXISTS videos_status_check`,
		`ALTER TABLE videos ADD CONSTRAINT videos_status_check CHECK (status IN ('ready', 'processing', 'failed'))`,
	)
}

func dropMedia(tx *gorm.DB) error {
	return execAll(tx,
		`ALTER TABLE videos DROP CONSTRAINT IF EXISTS videos_status_check`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS height`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS width`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS duration`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS status_reason`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS status`,
	)
}

// --- 202611300041_river_queue ----------------------------------------------------------------
// The tables of the job queue (riverqueue/river: river_job, river_leader, river_queue...), made
// by River's own migrator. River's versions cannot share one transaction (version 004 adds an
// enum value that version 006 uses, which PostgreSQL refuses in the transaction that added
// it), and ours all commit in one: so this migration only records that the queue's schema is
// ours, and Migrate brings River's versions up right after ours commit, each in its own
// transaction, still under the migration lock (migrateRiverUp). Rolling this migration back
// removes River's tables. The target version is pinned: a newer River brings its new versions
// with a new migration of ours.

// riverSchemaVersion is the last River migration of riverqueue/river v0.51.2.
const riverSchemaVersion = 8

// migrateRiverUp brings River's schema to riverSchemaVersion (nothing when it is there).
func migrateRiverUp(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	migrator, err := rivermigrate.New(riverdatabasesql.New(sqlDB), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: riverSchemaVersion}); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

func dropRiverQueue(tx *gorm.DB) error {
	// Down to version -1 removes river_migration itself too.
	return migrateRiver(tx, rivermigrate.DirectionDown, -1)
}

func migrateRiver(tx *gorm.DB, direction rivermigrate.Direction, target int) error {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return fmt.Errorf("river migrations: not inside a database/sql transaction (%T)", tx.Statement.ConnPool)
	}
	migrator, err := rivermigrate.New(riverdatabasesql.New(nil), nil)
	if err != nil {
		return err
	}
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	_, err = migrator.MigrateTx(ctx, sqlTx, direction, &rivermigrate.MigrateOpts{TargetVersion: target})
	return err
}
