package database

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Embedded is a PostgreSQL server that this process started (or found already running) from
// the PostgreSQL binaries installed on the machine, with its data under Dir so that it survives
// restarts. It listens on 127.0.0.1 only, with trust authentication, for development and tests.
//
// PostgreSQL refuses to run as root; when this process is root, the server runs as the
// unprivileged "postgres" user (or "nobody"), which then owns Dir.
type Embedded struct {
	Dir    string // holds data/ and server.log
	Port   int
	BinDir string

	log     *slog.Logger
	runAs   *syscall.Credential
	started bool
}

// EmbeddedOptions says where the embedded server keeps its data and where it listens.
type EmbeddedOptions struct {
	Dir    string // EMBEDDED_PG_DIR; made absolute
	Port   int    // EMBEDDED_PG_PORT
	BinDir string // PG_BIN_DIR; found on the machine when empty
	Log    *slog.Logger
}

// StartEmbedded initialises the data directory on first use, starts the server unless it is
// already running, and waits until it accepts connections.
//
// Cancelling ctx (Ctrl-C) ends the start-up promptly with an error that wraps ctx.Err(). A
// server this call had begun to start is stopped first, and a first initdb removes what it
// had written, so that the next run finds the data directory as it was.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, startInterrupted(err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	binDir, err := findPostgresBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: EMBEDDED_PG_DIR: %w", err)
	}
	e := &Embedded{Dir: dir, Port: opts.Port, BinDir: binDir, log: opts.Log}
	// Parents stay traversable (the server may run as another user); the cluster folder is private.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: create %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("embedded PostgreSQL: create %s: %w", dir, err)
	}
	if os.Geteuid() == 0 {
		if e.runAs, err = unprivilegedUser(); err != nil {
			return nil, err
		}
		if err := chownTree(dir, int(e.runAs.Uid), int(e.runAs.Gid)); err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: give %s to the unprivileged user: %w", dir, err)
		}
		if err := e.checkReachable(); err != nil {
			return nil, err
		}
	}

	if _, err := os.Stat(filepath.Join(e.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		e.log.Info("embedded PostgreSQL: creating a new cluster", "dir", e.dataDir(), "binaries", binDir)
		if out, err := e.run(ctx, "initdb", "-D", e.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"); err != nil {
			if ctx.Err() != nil {
				return nil, startInterrupted(ctx.Err())
			}
			return nil, fmt.Errorf("embedded PostgreSQL: initdb failed: %w\n%s", err, out)
		}
		conf := "\n# written by tiktok's embedded mode\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = on\n"
		if err := appendFile(filepath.Join(e.dataDir(), "postgresql.conf"), conf); err != nil {
			return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
		}
	}

	_, err = e.run(ctx, "pg_ctl", "status", "-D", e.dataDir())
	if ctx.Err() != nil {
		// pg_ctl status was cut short: its answer says nothing about the server.
		return nil, startInterrupted(ctx.Err())
	}
	if err == nil {
		e.log.Info("embedded PostgreSQL: already running, reusing it", "dir", e.dataDir())
		// Another process's server: on Ctrl-C it stays up for that process.
		if err := e.waitReady(ctx); err != nil {
			return nil, err
		}
		return e, nil
	}
	if inUse(e.Port) {
		return nil, fmt.Errorf("embedded PostgreSQL: port %d on 127.0.0.1 is taken by another program; set EMBEDDED_PG_PORT to a free port, or set DATABASE_URL to use that server", e.Port)
	}
	e.log.Info("embedded PostgreSQL: starting", "dir", e.dataDir(), "port", e.Port)
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	e.started = true
	if err := e.waitReady(ctx); err != nil {
		if ctx.Err() != nil {
			if stopErr := e.Stop(); stopErr != nil {
				return nil, fmt.Errorf("%w; stopping the half-started server failed too: %v", err, stopErr)
			}
			e.log.Info("embedded PostgreSQL: start-up interrupted, server stopped")
		}
		return nil, err
	}
	return e, nil
}

// start runs `pg_ctl start -w`, which returns once the server is ready (or after 60s). When
// ctx is cancelled first, start returns at once, after stopping the server it had launched.
func (e *Embedded) start(ctx context.Context) error {
	logFile := filepath.Join(e.Dir, "server.log")
	// pg_ctl is not tied to ctx: killed, it would leave the postmaster it forked running, and
	// it is pg_ctl that notices when that postmaster is gone (see stopInterruptedStart).
	cmd, out := e.command(context.WithoutCancel(ctx), "pg_ctl", "start", "-D", e.dataDir(), "-w", "-t", "60",
		"-l", logFile, "-o", "-p "+strconv.Itoa(e.Port))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("embedded PostgreSQL: pg_ctl start failed: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("embedded PostgreSQL: pg_ctl start failed: %w\n%s\n(see %s)", err, strings.TrimSpace(out.String()), logFile)
		}
		return nil
	case <-ctx.Done():
	}
	if err := e.stopInterruptedStart(exited); err != nil {
		return fmt.Errorf("%w; stopping the half-started server failed too: %v (see %s)", startInterrupted(ctx.Err()), err, logFile)
	}
	e.log.Info("embedded PostgreSQL: start-up interrupted, server stopped")
	return startInterrupted(ctx.Err())
}

// stopInterruptedStart stops the server whose `pg_ctl start` (still running, or just finished)
// reports on startExited. pg_ctl stop finds the server through postmaster.pid, which the
// postmaster writes a moment after it is launched; until then stop fails, so it is retried
// until it succeeds or pg_ctl start has ended with no server running (pg_ctl start notices
// within a tenth of a second when the postmaster exits).
func (e *Embedded) stopInterruptedStart(startExited <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	startEnded := false
	for {
		stopErr := e.Stop()
		if stopErr == nil {
			break
		}
		if startEnded && !e.running() {
			return nil // the postmaster never came up, or has exited: nothing to stop
		}
		if time.Now().After(deadline) {
			return stopErr
		}
		select {
		case <-startExited:
			startEnded, startExited = true, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !startEnded {
		<-startExited
	}
	return nil
}

// running reports whether a server runs on the data directory.
func (e *Embedded) running() bool {
	_, err := e.run(context.Background(), "pg_ctl", "status", "-D", e.dataDir())
	return err == nil
}

// startInterrupted is the error of a start-up that ctx ended.
func startInterrupted(ctxErr error) error {
	return fmt.Errorf("embedded PostgreSQL: start-up interrupted: %w", ctxErr)
}

// URL is the connection URL of database name on the embedded server.
func (e *Embedded) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", e.Port, name)
}

// EnsureDatabase creates database name unless it exists.
func (e *Embedded) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, e.URL("postgres"))
	if err != nil {
		return fmt.Errorf("embedded PostgreSQL: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down (fast mode: open sessions are ended, data is flushed).
func (e *Embedded) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.run(ctx, "pg_ctl", "stop", "-D", e.dataDir(), "-m", "fast", "-w")
	if err != nil {
		return fmt.Errorf("embedded PostgreSQL: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

func (e *Embedded) dataDir() string { return filepath.Join(e.Dir, "data") }

// waitReady returns once the server accepts a connection, after 30s of trying, or as soon as
// ctx is cancelled.
func (e *Embedded) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, e.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		if ctx.Err() != nil {
			return startInterrupted(ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded PostgreSQL on port %d does not answer: %w (see %s)", e.Port, err, filepath.Join(e.Dir, "server.log"))
		}
		select {
		case <-ctx.Done():
			return startInterrupted(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run runs one of the PostgreSQL programs to completion and returns its output.
func (e *Embedded) run(ctx context.Context, program string, args ...string) (string, error) {
	cmd, out := e.command(ctx, program, args...)
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// command prepares one of the PostgreSQL programs, as the unprivileged user when we are root, in
// its own process group so that a Ctrl-C meant for the server does not reach PostgreSQL
// directly (the server stops it cleanly on its way out). Its output goes to the buffer.
//
// Cancelling ctx sends SIGTERM rather than SIGKILL: an interrupted initdb then removes the
// data directory it was creating, where a killed one would leave a broken cluster behind.
func (e *Embedded) command(ctx context.Context, program string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.BinDir, program), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: e.runAs}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// checkReachable makes sure the unprivileged user can reach the data directory: every parent
// folder must let others through.
func (e *Embedded) checkReachable() error {
	for d := filepath.Dir(e.Dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("embedded PostgreSQL runs as an unprivileged user (we are root), who cannot enter %s; "+
				"run `chmod o+x %s`, set EMBEDDED_PG_DIR to a folder outside it, or set DATABASE_URL", d, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// findPostgresBinaries looks for initdb, pg_ctl and postgres: PG_BIN_DIR first, then the
// PATH, then the usual install places (Debian/Ubuntu, RHEL, Homebrew, Postgres.app), newest
// version first.
func findPostgresBinaries(explicit string) (string, error) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			if info, err := os.Stat(filepath.Join(dir, p)); err != nil || info.IsDir() {
				return false
			}
		}
		return true
	}
	if explicit != "" {
		if has(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("PG_BIN_DIR=%s does not hold initdb, pg_ctl and postgres", explicit)
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if dir := filepath.Dir(p); has(dir) {
			return dir, nil
		}
	}
	var candidates []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin",
		"/opt/homebrew/opt/postgresql*/bin", "/usr/local/opt/postgresql*/bin",
		"/Applications/Postgres.app/Contents/Versions/*/bin",
	} {
		matches, _ := filepath.Glob(pattern)
		candidates = append(candidates, matches...)
	}
	sort.Slice(candidates, func(i, j int) bool { return versionOf(candidates[i]) > versionOf(candidates[j]) })
	for _, dir := range candidates {
		if has(dir) {
			return dir, nil
		}
	}
	hint := "apt-get install postgresql"
	if runtime.GOOS == "darwin" {
		hint = "brew install postgresql@16"
	}
	return "", errors.New("DATABASE_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found for the embedded database; " +
		"install them (" + hint + ") or point PG_BIN_DIR at them, or set DATABASE_URL to a running PostgreSQL")
}

// versionOf extracts the major version from a path such as /usr/lib/postgresql/16/bin.
func versionOf(path string) int {
	best := 0
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(part); err == nil && n > best && n < 100 {
			best = n
		}
	}
	return best
}

func unprivilegedUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil && uid != 0 {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, errors.New("embedded PostgreSQL cannot run as root and no unprivileged user (postgres or nobody) exists; " +
		"run the server as a normal user, or set DATABASE_URL to a running PostgreSQL")
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func inUse(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
