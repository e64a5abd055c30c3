// Package countfold runs the counter folder of a server instance: every interval it merges the
// pending counter deltas the triggers have appended into the stored counters
// (store.FoldCounterDeltas). Counts are exact whether or not it runs (every read adds the
// pending deltas); folding keeps those sums short, so reads stay cheap. Every instance runs
// one; they never fold the same row at once.
package countfold

import (
	"context"
	"log/slog"
	"time"
)

// Fold merges the deltas of up to batch rows per table and reports how many rows it updated.
type Fold func(ctx context.Context, batch int) (int64, error)

// Vacuum vacuums the delta tables.
type Vacuum func(ctx context.Context) error

// Options configure a Folder.
type Options struct {
	// Interval is the pause between folds when the last one found no backlog.
	Interval time.Duration
	// Batch is how many rows of each table one fold takes at most (default 1000).
	Batch int
	// Vacuum, when set, runs every VacuumEvery (default 2s). A delta lives for one fold, so
	// the delta tables turn over thousands of rows a second on a viral video, and the sum a
	// read of that video adds walks every dead index entry left behind until a vacuum
	// removes it; autovacuum visits a database once a minute at most (and may be off).
	Vacuum      Vacuum
	VacuumEvery time.Duration
	Log         *slog.Logger
}

// Folder folds every Interval until Close.
type Folder struct {
	fold   Fold
	opts   Options
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a folder that is not running yet.
func New(fold Fold, o Options) *Folder {
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.VacuumEvery <= 0 {
		o.VacuumEvery = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Folder{fold: fold, opts: o}
}

// Start runs the folder in its own goroutine.
func (f *Folder) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go f.run(ctx)
}

func (f *Folder) run(ctx context.Context) {
	defer close(f.done)
	failing := false
	vacuumed := time.Now()
	for {
		if f.opts.Vacuum != nil && time.Since(vacuumed) >= f.opts.VacuumEvery {
			vacuumed = time.Now()
			if err := f.opts.Vacuum(ctx); err != nil && ctx.Err() == nil {
				f.opts.Log.Debug("the counter delta tables could not be vacuumed", "error", err.Error())
			}
		}
		folded, err := f.fold(ctx, f.opts.Batch)
		switch {
		case err != nil && ctx.Err() == nil:
			// Nothing is lost: the deltas stay until a fold commits. Say it once per outage.
			if !failing {
				f.opts.Log.Warn("counter deltas could not be folded; counts stay exact, reads sum more deltas until it works", "error", err.Error())
			}
			failing = true
		case err == nil:
			if failing {
				f.opts.Log.Info("counter deltas are folded again")
			}
			failing = false
		}
		// A fold that took a whole batch of some table may have left more: go on at once.
		if err == nil && folded >= int64(f.opts.Batch) {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.opts.Interval):
		}
	}
}

// Close stops the folder and waits for a fold in progress to end (rolled back if cut: its
// deltas stay for the next folder).
func (f *Folder) Close() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	<-f.done
}
