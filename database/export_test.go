package database

// MigrationLockKey lets the tests hold the migration lock the way a second server would.
const MigrationLockKey = migrationLockKey
