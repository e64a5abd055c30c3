package database_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiktok/config"
	"tiktok/database"
)

func TestResolveUsesDatabaseURLAsIs(t *testing.T) {
	const url = "postgres://someone@db.example:5432/tiktok?sslmode=disable"
	dsn, stop, err := database.Resolve(context.Background(), config.Config{DatabaseURL: url}, nil)
	if err != nil || dsn != url || stop == nil {
		t.Fatalf("got %q, stop=%v, %v; want the URL unchanged", dsn, stop != nil, err)
	}
	stop()
}

// The seeder resolves the database the same way as the server; run next to a server that
// started the embedded PostgreSQL, it must not stop that server's database when it ends.
func TestResolveStopsOnlyTheEmbeddedServerItStarted(t *testing.T) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tiktok-resolve-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // the server may run as the postgres user
	cfg := config.Config{EmbeddedDir: filepath.Join(dir, "pg"), EmbeddedPort: freePort(t), PGBinDir: os.Getenv("PG_BIN_DIR")}

	first, stopFirst, err := database.Resolve(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopFirst()
		}
	})
	second, stopSecond, err := database.Resolve(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second resolve gave %q, want %q", second, first)
	}
	stopSecond()
	if err := ping(ctx, first); err != nil {
		t.Fatalf("the embedded server went down when the second user finished: %v", err)
	}
	stopFirst()
	stopped = true
	if err := ping(ctx, first); err == nil {
		t.Fatal("the embedded server still runs after the process that started it stopped it")
	}
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
