package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// MigrationsTable records which migrations ran (Prisma keeps its own in _prisma_migrations,
// which we leave alone).
const MigrationsTable = "schema_migrations"

// migrationLockKey is the pg_advisory_lock key that keeps two servers starting at once from
// migrating at the same time.
const migrationLockKey = 7_205_170_001

func newMigrator(db *gorm.DB) *gormigrate.Gormigrate {
	return gormigrate.New(db, &gormigrate.Options{
		TableName:                 MigrationsTable,
		IDColumnName:              "id",
		IDColumnSize:              255,
		UseTransaction:            true, // all pending migrations commit together, or none does
		ValidateUnknownMigrations: true, // refuse a database migrated by a newer version of this server
	}, migrations())
}

// Migrate applies every pending migration, in order, in one transaction, under an advisory lock.
// On an up-to-date database it changes nothing. Cancelling ctx (Ctrl-C while another server
// holds the lock, say) abandons the wait or rolls the transaction back.
func Migrate(ctx context.Context, db *gorm.DB) error {
	return withMigrationLock(ctx, db, func(conn *gorm.DB) error {
		if err := ensureMigrationsTable(conn); err != nil {
			return err
		}
		if err := newMigrator(conn).Migrate(); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		// The job queue's own versions, each in its own transaction (migrations_media.go).
		return migrateRiverUp(ctx, db)
	})
}

// MigrateDown rolls back the last `steps` applied migrations (all of them when steps <= 0).
// Rolling back the first migration drops the tables and every row in them.
func MigrateDown(ctx context.Context, db *gorm.DB, steps int) (rolledBack int, err error) {
	err = withMigrationLock(ctx, db, func(conn *gorm.DB) error {
		if err := ensureMigrationsTable(conn); err != nil {
			return err
		}
		for steps <= 0 || rolledBack < steps {
			err := newMigrator(conn).RollbackLast()
			if errors.Is(err, gormigrate.ErrNoRunMigration) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("migrate down: %w", err)
			}
			rolledBack++
		}
		return nil
	})
	return rolledBack, err
}

// MigrationStatus is one known migration and whether it has been applied.
type MigrationStatus struct {
	ID      string
	Applied bool
}

// Status lists the migrations this server knows, in order, and which have run.
func Status(ctx context.Context, db *gorm.DB) ([]MigrationStatus, error) {
	db = db.WithContext(ctx)
	if err := ensureMigrationsTable(db); err != nil {
		return nil, err
	}
	var applied []string
	if err := db.Table(MigrationsTable).Pluck("id", &applied).Error; err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(applied))
	for _, id := range applied {
		done[id] = true
	}
	var out []MigrationStatus
	for _, m := range migrations() {
		out = append(out, MigrationStatus{ID: m.ID, Applied: done[m.ID]})
	}
	return out, nil
}

// ensureMigrationsTable creates the bookkeeping table with an applied_at column, which
// gormigrate's own table would lack.
func ensureMigrationsTable(db *gorm.DB) error {
	return db.Exec(`CREATE TABLE IF NOT EXISTS ` + MigrationsTable + ` (
		id varchar(255) PRIMARY KEY,
		applied_at timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))`).Error
}

// withMigrationLock runs fn on one pinned connection, bound to ctx, that holds the migration
// advisory lock.
func withMigrationLock(ctx context.Context, db *gorm.DB, fn func(*gorm.DB) error) error {
	return db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockKey).Error; err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		defer releaseMigrationLock(ctx, conn)
		return fn(conn)
	})
}

// releaseMigrationLock unlocks even when ctx is already cancelled: the lock belongs to the
// session, and the pinned connection goes back to the pool, where it would otherwise keep
// every later migration waiting.
func releaseMigrationLock(ctx context.Context, conn *gorm.DB) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	conn.WithContext(ctx).Exec("SELECT pg_advisory_unlock(?)", migrationLockKey)
}
