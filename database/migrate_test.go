package database_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"tiktok/database"
	"tiktok/internal/testdb"
)

// Ctrl-C while another server holds the migration lock must end the wait at once; the lock
// must then be free for the next run, so nothing may linger on a pooled connection.
func TestMigrateStopsWaitingForTheLockWhenCancelled(t *testing.T) {
	fresh, _ := testdb.NewDatabase(t)
	sqlDB, err := fresh.DB()
	if err != nil {
		t.Fatal(err)
	}
	otherServer, err := sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer otherServer.Close()
	if _, err := otherServer.ExecContext(t.Context(), "SELECT pg_advisory_lock($1)", database.MigrationLockKey); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- database.Migrate(ctx, fresh) }()
	waitForLockWaiter(t, otherServer)
	cancel()
	cancelled := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Migrate returned %v, want context.Canceled", err)
		}
		if took := time.Since(cancelled); took > 2*time.Second {
			t.Errorf("Migrate took %s to notice the cancellation", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Migrate still waits for the lock 10s after its context was cancelled")
	}

	if _, err := otherServer.ExecContext(t.Context(), "SELECT pg_advisory_unlock($1)", database.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	ctx, cancelAfter := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancelAfter()
	if err := database.Migrate(ctx, fresh); err != nil {
		t.Fatalf("Migrate after the cancelled run: %v", err)
	}
	status, err := database.Status(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !s.Applied {
			t.Errorf("migration %s not applied", s.ID)
		}
	}
}

// waitForLockWaiter returns once some session of this database waits for an advisory lock,
// so that the cancellation lands on the wait and not before it.
func waitForLockWaiter(t *testing.T, conn *sql.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		err := conn.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Migrate never started waiting for the migration lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
