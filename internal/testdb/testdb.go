// Package testdb gives each test package its own fresh, migrated PostgreSQL database.
//
// The server is the one named by TEST_DATABASE_URL (any database on it; we only connect to
// create and drop ours), or, when that is unset, a throwaway embedded PostgreSQL started from
// the machine's PostgreSQL binaries for this package alone. When no server can be reached the
// tests fail with a message saying how to start one: they never skip.
//
// Usage, once per test package:
//
//	var db *gorm.DB
//	func TestMain(m *testing.M) { testdb.Main(m, &db) }
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/database"
)

// EnvURL names the variable that points the tests at a PostgreSQL server.
const EnvURL = "TEST_DATABASE_URL"

var (
	adminURL string
	admin    *gorm.DB
)

// Main creates a migrated database for this test package, stores it in *db, runs the tests,
// drops the database and exits with the tests' code.
func Main(m *testing.M, db **gorm.DB) {
	os.Exit(run(m, db))
}

func run(m *testing.M, dst **gorm.DB) int {
	ctx := context.Background()
	stop, err := connectServer(ctx)
	if err != nil {
		fail(err)
		return 1
	}
	defer stop()

	db, name, err := createDatabase(ctx, "pkg")
	if err != nil {
		fail(err)
		return 1
	}
	defer dropDatabase(name)
	if err := database.Migrate(ctx, db); err != nil {
		fmt.Fprintf(os.Stderr, "testdb: migrating %s failed: %v\n", name, err)
		return 1
	}
	*dst = db
	code := m.Run()
	closeDB(db)
	return code
}

// NewDatabase creates an empty, unmigrated database for one test (migration tests use it)
// and drops it when the test ends. It returns the connection and the database's URL.
func NewDatabase(t testing.TB) (*gorm.DB, string) {
	t.Helper()
	if admin == nil {
		t.Fatal("testdb.NewDatabase needs testdb.Main in the package's TestMain")
	}
	db, name, err := createDatabase(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closeDB(db)
		dropDatabase(name)
	})
	return db, urlFor(name)
}

// URL returns the URL of database name on the test server.
func urlFor(name string) string {
	u, _ := url.Parse(adminURL)
	u.Path = "/" + name
	return u.String()
}

func connectServer(ctx context.Context) (func(), error) {
	stop := func() {}
	adminURL = os.Getenv(EnvURL)
	if adminURL == "" {
		pg, tmp, err := startThrowawayServer(ctx)
		if err != nil {
			return stop, err
		}
		adminURL = pg.URL("postgres")
		stop = func() {
			if err := pg.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "testdb: %v\n", err)
			}
			_ = os.RemoveAll(tmp)
		}
	}
	var err error
	admin, err = database.Open(ctx, adminURL, database.PoolOptions{MaxOpenConns: 2, MaxIdleConns: 1, ConnMaxLifetime: time.Hour}, 3*time.Second, nil)
	if err != nil {
		stop()
		return func() {}, fmt.Errorf("%s=%s: %w", EnvURL, database.MaskURL(adminURL), err)
	}
	return func() { closeDB(admin); stop() }, nil
}

// startThrowawayServer starts an embedded server in a new temporary folder, which it returns
// for removal after the server has stopped.
func startThrowawayServer(ctx context.Context) (*database.Embedded, string, error) {
	dir, err := os.MkdirTemp("", "tiktok-testdb-")
	if err != nil {
		return nil, "", err
	}
	_ = os.Chmod(dir, 0o755) // the server may run as another user, who must get through
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	pg, err := database.StartEmbedded(ctx, database.EmbeddedOptions{
		Dir: filepath.Join(dir, "pg"), Port: port, BinDir: os.Getenv("PG_BIN_DIR"),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("%s is not set and the throwaway embedded PostgreSQL could not start: %w", EnvURL, err)
	}
	return pg, dir, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

func createDatabase(ctx context.Context, kind string) (*gorm.DB, string, error) {
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := unsafeChars.ReplaceAllString(strings.ToLower(fmt.Sprintf("test_%s_%s_%s", pkg, kind, hex.EncodeToString(b))), "_")
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	if err := admin.WithContext(ctx).Exec(`CREATE DATABASE "` + name + `"`).Error; err != nil {
		return nil, "", fmt.Errorf("testdb: create database %s: %w", name, err)
	}
	db, err := database.Open(ctx, urlFor(name), database.DefaultPool, 3*time.Second, nil)
	if err != nil {
		dropDatabase(name)
		return nil, "", err
	}
	return db, name, nil
}

func dropDatabase(name string) {
	if err := admin.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`).Error; err != nil {
		fmt.Fprintf(os.Stderr, "testdb: drop database %s: %v\n", name, err)
	}
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, `
==================================================================================
 The tests need a PostgreSQL server, and none could be reached:

   %v

 Either point TEST_DATABASE_URL at a running server, for example
   export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
 and start it if it is down (Debian/Ubuntu:
   pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
 macOS: brew services start postgresql@16), or leave TEST_DATABASE_URL unset to let
 each test package start a throwaway server from the PostgreSQL binaries
 (apt-get install postgresql / brew install postgresql@16).
==================================================================================
`, err)
}

// URL is the URL of database name on the test server (for a subprocess to connect to the
// package's database).
func URL(name string) string { return urlFor(name) }
