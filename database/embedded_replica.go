package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// basebackupDir is the folder of binDir's PostgreSQL installation that holds pg_basebackup as
// well: binDir itself, or, when binDir holds links to some programs only (as /usr/local/bin
// may), the folder pg_ctl links to.
func basebackupDir(binDir string) (string, error) {
	if _, err := os.Stat(filepath.Join(binDir, "pg_basebackup")); err == nil {
		return binDir, nil
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(binDir, "pg_ctl")); err == nil {
		dir := filepath.Dir(real)
		if _, err := os.Stat(filepath.Join(dir, "pg_basebackup")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("embedded replica: no pg_basebackup next to the PostgreSQL binaries in %s (Debian/Ubuntu: apt-get install postgresql; or point PG_BIN_DIR at a folder with initdb, pg_ctl, postgres and pg_basebackup)", binDir)
}

// StartReplica makes a streaming replica of e in opts.Dir and starts it on opts.Port,
// returning once it accepts (read-only) connections. The replica is a pg_basebackup -R copy
// of e, which must be running: an embedded server allows replication connections from
// 127.0.0.1 (initdb's pg_hba.conf, wal_level=replica by default). A Dir that already holds a
// cluster is started as it is. Tests and scripts use it to have a primary and a replica on
// one machine; opts.BinDir is ignored (e's binaries are used).
func (e *Embedded) StartReplica(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded replica: %w", err)
	}
	if opts.Log == nil {
		opts.Log = e.log
	}
	binDir, err := basebackupDir(e.BinDir)
	if err != nil {
		return nil, err
	}
	r := &Embedded{Dir: dir, Port: opts.Port, BinDir: binDir, log: opts.Log, runAs: e.runAs}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("embedded replica: create %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("embedded replica: create %s: %w", dir, err)
	}
	if r.runAs != nil {
		if err := os.Lchown(dir, int(r.runAs.Uid), int(r.runAs.Gid)); err != nil {
			return nil, fmt.Errorf("embedded replica: give %s to the unprivileged user: %w", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		r.log.Info("embedded replica: copying the primary", "from_port", e.Port, "dir", r.dataDir())
		// -R writes standby.signal and primary_conninfo; -X stream copies the WAL written
		// meanwhile; -c fast starts at once instead of waiting for the next checkpoint.
		if out, err := r.run(ctx, "pg_basebackup", "-D", r.dataDir(), "-R", "-X", "stream", "-c", "fast",
			"-h", "127.0.0.1", "-p", strconv.Itoa(e.Port), "-U", "postgres"); err != nil {
			_ = os.RemoveAll(r.dataDir())
			return nil, fmt.Errorf("embedded replica: pg_basebackup from port %d failed: %w\n%s", e.Port, err, out)
		}
	}
	if inUse(r.Port) {
		return nil, fmt.Errorf("embedded replica: port %d on 127.0.0.1 is taken by another program", r.Port)
	}
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	r.started = true
	if err := r.waitReady(ctx); err != nil {
		_ = r.Stop()
		return nil, err
	}
	return r, nil
}
