package testdb

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Recorder is a GORM logger that keeps the text of every statement run through it, with its
// arguments inlined, and counts them: so a test can check how many statements a request ran
// and EXPLAIN exactly those. Use it with Recording.
type Recorder struct {
	logger.Interface
	n     atomic.Int64
	mu    sync.Mutex
	stmts []string
}

// Recording returns db with a Recorder as its logger, and the Recorder.
func Recording(db *gorm.DB) (*gorm.DB, *Recorder) {
	r := &Recorder{Interface: logger.Discard}
	return db.Session(&gorm.Session{Logger: r}), r
}

// LogMode implements logger.Interface: the recorder keeps recording at any level.
func (r *Recorder) LogMode(logger.LogLevel) logger.Interface { return r }

// Trace implements logger.Interface: GORM calls it once per statement.
func (r *Recorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	sql, _ := fc()
	r.n.Add(1)
	r.mu.Lock()
	r.stmts = append(r.stmts, sql)
	r.mu.Unlock()
}

// Count is the number of statements recorded so far.
func (r *Recorder) Count() int64 { return r.n.Load() }

// Take returns the statements recorded since the last Take and forgets them.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}
