package main

import (
	"context"
	"os"
	"testing"
	"time"

	"tiktok/database"
)

// The hot statements' settings of issue 15 (docs/performance.md, "Issue 15"): no transaction
// of GORM's own around a single write, and pgx's per-connection cache of prepared statements
// (its default, kept: a statement is parsed once per connection, then only bound and run).
func TestDatabaseSettingsOfTheHotStatements(t *testing.T) {
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		t.Fatal("TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)")
	}
	ctx := context.Background()
	db, err := database.Open(ctx, dsn, database.PoolOptions{MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: time.Minute}, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	if !db.Config.SkipDefaultTransaction {
		t.Error("GORM wraps single writes in BEGIN/COMMIT (SkipDefaultTransaction is off)")
	}
	// One connection: both queries and the check run on it.
	for range 2 {
		var n int
		if err := db.WithContext(ctx).Raw("SELECT 41 + ? /* issue15 */", 1).Scan(&n).Error; err != nil || n != 42 {
			t.Fatalf("query: %d, %v", n, err)
		}
	}
	var prepared int
	if err := db.WithContext(ctx).Raw(`SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT 41 + $1 /* issue15 */%'`).
		Scan(&prepared).Error; err != nil {
		t.Fatal(err)
	}
	if prepared != 1 {
		t.Errorf("the query is prepared %d times on its connection, want once (pgx's statement cache)", prepared)
	}
}
