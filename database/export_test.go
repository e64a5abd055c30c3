package database

// MigrationLockKey lets the tests hold the migration lock the way a second server would.
const MigrationLockKey = migrationLockKey

// SetBackfillBatch makes the hashtag backfill read n videos a round, so a test crosses batches.
func SetBackfillBatch(n int) (restore func()) {
	old := backfillBatch
	backfillBatch = n
	return func() { backfillBatch = old }
}
