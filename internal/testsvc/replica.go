package testsvc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiktok/database"
)

// A primary PostgreSQL and a streaming replica of it, made from the machine's PostgreSQL
// binaries (initdb, pg_ctl, pg_basebackup: Debian's postgresql package) on free ports, private
// to this test process and shared by its tests. It is always a private pair, never
// TEST_DATABASE_URL's server: that one need not allow replication, and the tests stop and
// pause the replica. Both servers stop when the test process ends, however it ends.

// ReplicaDB is a fresh, migrated database of its own for one test on the pair's primary, and
// the same database as the replica serves it.
type ReplicaDB struct {
	PrimaryURL string
	ReplicaURL string
	pair       *pgPair
}

type pgPair struct {
	primary, replica *database.Embedded
	replicaOpts      database.EmbeddedOptions
	// mu serialises stopping and starting the replica; stopped says it is down.
	mu      sync.Mutex
	stopped bool
}

var (
	pairOnce sync.Once
	pair     *pgPair
	pairErr  error
	// pairStop keeps the write end of the pipe whose closing stops the pair (see pairWatchdog).
	pairStop io.WriteCloser
)

// Replica returns a new migrated database on the primary of the test pair (started on first
// use in this test package), once the replica has it too. It is dropped when the test ends.
// The test fails, never skips, when the pair cannot be had.
func Replica(t testing.TB) *ReplicaDB {
	t.Helper()
	pairOnce.Do(func() { pair, pairErr = startPair() })
	if pairErr != nil {
		t.Fatal(replicaBox(pairErr))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "test_" + randomHex(6)
	admin, err := pgx.Connect(ctx, pair.primary.URL("postgres"))
	if err != nil {
		t.Fatalf("testsvc: connect to the primary: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testsvc: create database %s: %v", name, err)
	}
	db := &ReplicaDB{PrimaryURL: pair.primary.URL(name), ReplicaURL: pair.replica.URL(name), pair: pair}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db.ResumeReplay(t)
		if conn, err := pgx.Connect(ctx, pair.primary.URL("postgres")); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = conn.Close(ctx)
		}
	})
	gdb, err := database.Open(ctx, db.PrimaryURL, database.PoolOptions{MaxOpenConns: 2, MaxIdleConns: 1}, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := gdb.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	if err := database.Migrate(ctx, gdb); err != nil {
		t.Fatalf("testsvc: migrate %s: %v", name, err)
	}
	db.WaitReplayed(t)
	return db
}

// WaitReplayed returns once the replica has replayed everything the primary had written when
// it was called (the test fails after 30 seconds).
func (db *ReplicaDB) WaitReplayed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var target string
	if err := queryRow(ctx, db.pair.primary.URL("postgres"), "SELECT pg_current_wal_lsn()::text", &target); err != nil {
		t.Fatalf("testsvc: read the primary's WAL position: %v", err)
	}
	for {
		var done bool
		err := queryRow(ctx, db.pair.replica.URL("postgres"),
			"SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", &done, target)
		if err == nil && done {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("testsvc: the replica did not replay up to %s within 30s (last error: %v)", target, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PauseReplay makes the replica stop applying the primary's changes (it keeps receiving
// them), so that it lags more and more; ResumeReplay undoes it.
func (db *ReplicaDB) PauseReplay(t testing.TB) {
	t.Helper()
	db.replicaExec(t, "SELECT pg_wal_replay_pause()")
}

// ResumeReplay lets a paused replica catch up.
func (db *ReplicaDB) ResumeReplay(t testing.TB) {
	t.Helper()
	db.pair.mu.Lock()
	stopped := db.pair.stopped
	db.pair.mu.Unlock()
	if !stopped {
		db.replicaExec(t, "SELECT pg_wal_replay_resume()")
	}
}

func (db *ReplicaDB) replicaExec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ignored any
	if err := queryRow(ctx, db.pair.replica.URL("postgres"), sql, &ignored); err != nil {
		t.Fatalf("testsvc: %s on the replica: %v", sql, err)
	}
}

// StopReplica shuts the replica down (fast: open sessions are ended); StartReplica brings it
// back on the same port. A replica still stopped when the test ends is started again then.
func (db *ReplicaDB) StopReplica(t testing.TB) {
	t.Helper()
	p := db.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.replica.Stop(); err != nil {
		t.Fatalf("testsvc: stop the replica: %v", err)
	}
	p.stopped = true
	t.Cleanup(func() {
		p.mu.Lock()
		stopped := p.stopped
		p.mu.Unlock()
		if stopped {
			db.StartReplica(t)
		}
	})
}

// StartReplica starts the stopped replica again and waits until it accepts connections.
func (db *ReplicaDB) StartReplica(t testing.TB) {
	t.Helper()
	p := db.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := database.StartEmbedded(ctx, p.replicaOpts)
	if err != nil {
		t.Fatalf("testsvc: start the replica again: %v", err)
	}
	p.replica, p.stopped = r, false
}

func queryRow(ctx context.Context, url, sql string, dst any, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql, args...).Scan(dst)
}

// startPair initialises and starts a primary, copies it into a replica with pg_basebackup
// and starts that, and arms the watchdog that stops both with this process.
func startPair() (*pgPair, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "tiktok-pgpair-")
	if err != nil {
		return nil, err
	}
	_ = os.Chmod(dir, 0o755) // the servers may run as another user, who must get through
	stop, err := pairWatchdog(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	fail := func(err error) (*pgPair, error) {
		_, _ = stop.Write([]byte("stop\n"))
		_ = stop.Close()
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	primaryPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	primary, err := database.StartEmbedded(ctx, database.EmbeddedOptions{
		Dir: filepath.Join(dir, "primary"), Port: primaryPort, BinDir: os.Getenv("PG_BIN_DIR"), Log: quiet})
	if err != nil {
		return fail(fmt.Errorf("the primary did not start: %w", err))
	}
	replicaPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	opts := database.EmbeddedOptions{Dir: filepath.Join(dir, "replica"), Port: replicaPort, BinDir: primary.BinDir, Log: quiet}
	replica, err := primary.StartReplica(ctx, opts)
	if err != nil {
		return fail(fmt.Errorf("the replica did not start: %w", err))
	}
	pairStop = stop
	return &pgPair{primary: primary, replica: replica, replicaOpts: opts}, nil
}

// pairWatchdog stops the servers whose data lie under dir, and removes dir, when its
// standard input closes (this process is gone, however it ended) or receives a line. It sends
// the postmasters SIGINT (a fast shutdown) by their pid files, since pg_ctl refuses to run as
// root.
func pairWatchdog(dir string) (io.WriteCloser, error) {
	const script = `trap '' INT QUIT
dir=$1
read -r line
for d in "$dir"/replica/data "$dir"/primary/data; do
	[ -f "$d/postmaster.pid" ] && kill -INT "$(head -n 1 "$d/postmaster.pid")" 2>/dev/null
done
i=0
while [ $i -lt 300 ] && { [ -f "$dir/replica/data/postmaster.pid" ] || [ -f "$dir/primary/data/postmaster.pid" ]; }; do
	sleep 0.1; i=$((i+1))
done
rm -rf "$dir"`
	cmd := exec.Command("sh", "-c", script, "sh", dir)
	stop, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	return stop, nil
}

func replicaBox(err error) string {
	return fmt.Sprintf(`
==================================================================================
 The replica tests need a PostgreSQL primary and a streaming replica, made from the
 machine's PostgreSQL binaries (initdb, pg_ctl, postgres, pg_basebackup), and these
 could not be had:

   %v

 Install the binaries (Debian/Ubuntu: apt-get install postgresql, which puts them
 in /usr/lib/postgresql/<version>/bin; macOS: brew install postgresql@16), or point
 PG_BIN_DIR at the folder that holds them.
==================================================================================`, err)
}
