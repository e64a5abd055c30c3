package database_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"tiktok/database"
)

// Ctrl-C while the embedded server starts must end the wait at once, stop the half-started
// server and leave the data directory ready for the next start. The server is made slow to
// start for real (archive recovery whose restore_command waits while a file exists), so each
// cancellation lands while StartEmbedded still waits, at a different point of its start-up.
func TestStartEmbeddedStopsWaitingWhenCancelled(t *testing.T) {
	dir, err := os.MkdirTemp("", "tiktok-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // the server may run as the postgres user
	opts := database.EmbeddedOptions{Dir: filepath.Join(dir, "pg"), Port: freePort(t), BinDir: os.Getenv("PG_BIN_DIR")}
	dataDir := filepath.Join(opts.Dir, "data")

	t.Run("cancelled before the start creates nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := database.StartEmbedded(ctx, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("StartEmbedded returned %v, want context.Canceled", err)
		}
		if _, err := os.Stat(opts.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s exists after a cancelled start (%v)", opts.Dir, err)
		}
	})

	t.Run("cancelled during the first initdb leaves no half-made cluster", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// initdb takes about a second; on a fast machine the cancellation may land in pg_ctl
		// start instead, which must end just as cleanly.
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		if _, err := database.StartEmbedded(ctx, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("StartEmbedded returned %v, want context.Canceled", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("StartEmbedded took %s", took)
		}
		assertNoServer(t, dataDir, opts.Port)
	})

	pg, err := database.StartEmbedded(t.Context(), opts) // a cluster that initdb finished
	if err != nil {
		t.Fatalf("the data directory does not start after a cancelled first start: %v", err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	restoreNormalStart := makeStartWaitForever(t, dataDir, filepath.Join(dir, "hold"))

	for _, after := range []time.Duration{0, 2 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond,
		200 * time.Millisecond, time.Second} {
		t.Run(fmt.Sprintf("cancelled %s into the start", after), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := database.StartEmbedded(ctx, opts)
				done <- err
			}()
			time.Sleep(after)
			cancel()
			cancelled := time.Now()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("StartEmbedded returned %v, want context.Canceled", err)
				}
				if took := time.Since(cancelled); took > 5*time.Second {
					t.Errorf("StartEmbedded took %s to return after the cancellation", took)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("StartEmbedded still waits 30s after its context was cancelled")
			}
			assertNoServer(t, dataDir, opts.Port)
		})
	}

	restoreNormalStart()
	pg, err = database.StartEmbedded(t.Context(), opts)
	if err != nil {
		t.Fatalf("the data directory does not start after the cancelled starts: %v", err)
	}
	defer pg.Stop()
	if err := ping(t.Context(), pg.URL("postgres")); err != nil {
		t.Fatal(err)
	}
}

// makeStartWaitForever puts the stopped cluster in archive recovery with a restore_command that
// waits while the file hold exists, so that the server never becomes ready. The returned func
// lets the cluster start normally again.
func makeStartWaitForever(t *testing.T, dataDir, hold string) (restore func()) {
	t.Helper()
	conf := filepath.Join(dataDir, "postgresql.conf")
	original, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The shells of interrupted restore commands outlive their server; removing hold ends them.
	t.Cleanup(func() { _ = os.Remove(hold) })
	waiting := fmt.Sprintf("\nrestore_command = 'while [ -e %s ]; do sleep 0.1; done; false'\n", hold)
	if err := os.WriteFile(conf, append(bytes.Clone(original), waiting...), 0o600); err != nil {
		t.Fatal(err)
	}
	signal := filepath.Join(dataDir, "recovery.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dataDir); err == nil { // the server may run as the postgres user
		owner := info.Sys().(*syscall.Stat_t)
		_ = os.Lchown(signal, int(owner.Uid), int(owner.Gid))
	}
	return func() {
		if err := os.Remove(signal); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, original, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// assertNoServer checks that no PostgreSQL process (postmaster or pg_ctl) runs on dataDir and
// that nothing listens on port.
func assertNoServer(t *testing.T, dataDir string, port int) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid is still there (%v)", err)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && bytes.Contains(cmdline, []byte(dataDir)) {
			t.Errorf("a process still runs on the data directory: %s", bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on port %d", port)
	}
}
