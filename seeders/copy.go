package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// binWriter writes PostgreSQL's binary COPY format. It is hand-rolled rather than going
// through pgx.CopyFrom because that boxes every value in an interface and encodes it by
// reflection, which at tens of millions of rows costs more client CPU than the server's
// whole ingest; the format itself is a few fixed-width fields.
type binWriter struct {
	out  io.Writer
	buf  []byte
	err  error
	rows *atomic.Int64
}

const copyFlushAt = 1 << 20

// pgEpochMs is 2000-01-01T00:00:00Z, PostgreSQL's timestamp zero, in Unix milliseconds.
const pgEpochMs = 946_684_800_000

func (w *binWriter) header() {
	w.buf = append(w.buf, "PGCOPY\n\xff\r\n\x00"...)
	w.buf = binary.BigEndian.AppendUint32(w.buf, 0) // flags
	w.buf = binary.BigEndian.AppendUint32(w.buf, 0) // header extension length
}

// row starts a row of n fields.
func (w *binWriter) row(n int16) {
	if len(w.buf) >= copyFlushAt {
		w.flush()
	}
	w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(n))
	w.rows.Add(1)
}

func (w *binWriter) int4(v int32) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 4)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(v))
}

// timestamp writes a timestamp(3) given in Unix milliseconds (UTC, like every timestamp here).
func (w *binWriter) timestamp(unixMs int64) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 8)
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64((unixMs-pgEpochMs)*1000))
}

func (w *binWriter) text(s string) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(s)))
	w.buf = append(w.buf, s...)
}

// textf writes a text field built by appending to the buffer in place, so that no string is
// allocated per row.
func (w *binWriter) textf(build func(b []byte) []byte) {
	at := len(w.buf)
	w.buf = append(w.buf, 0, 0, 0, 0)
	w.buf = build(w.buf)
	binary.BigEndian.PutUint32(w.buf[at:], uint32(len(w.buf)-at-4))
}

func (w *binWriter) flush() {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// failed reports whether the server side has gone away; generators check it to stop early.
func (w *binWriter) failed() bool { return w.err != nil }

func (w *binWriter) trailer() {
	w.buf = binary.BigEndian.AppendUint16(w.buf, 0xffff)
	w.flush()
}

var errCopyAborted = errors.New("COPY aborted")

// copyIn streams the rows that gen writes into table with COPY ... FROM STDIN (binary). gen
// runs in its own goroutine, so generating and the server's ingest overlap.
func copyIn(ctx context.Context, conn *pgconn.PgConn, table string, cols []string, prog *progress, gen func(w *binWriter)) error {
	pr, pw := io.Pipe()
	rows := prog.phase(table)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := &binWriter{out: pw, buf: make([]byte, 0, copyFlushAt+4096), rows: rows}
		w.header()
		gen(w)
		w.trailer()
		_ = pw.CloseWithError(w.err) // nil closes with EOF: the end of the data
	}()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary)", pgx.Identifier{table}.Sanitize(), strings.Join(quoted, ", "))
	_, err := conn.CopyFrom(ctx, pr, sql)
	_ = pr.CloseWithError(errCopyAborted) // unblocks gen if the server stopped reading early
	<-done
	prog.done()
	if err != nil {
		return fmt.Errorf("COPY %s: %w", table, err)
	}
	return nil
}

// progress reports on stderr which phase a long run is in and how far it got.
type progress struct {
	out   io.Writer
	start time.Time

	name      atomic.Pointer[string]
	rows      atomic.Int64
	phaseFrom time.Time
	stop      chan struct{}
	stopped   chan struct{}
}

func newProgress(out io.Writer, every time.Duration) *progress {
	p := &progress{out: out, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if name := p.name.Load(); name != nil {
					fmt.Fprintf(p.out, "  ... %s: %d rows so far (%s)\n", *name, p.rows.Load(), p.elapsed())
				}
			}
		}
	}()
	return p
}

func (p *progress) elapsed() string {
	return time.Since(p.start).Round(100 * time.Millisecond).String()
}

// phase starts counting rows for a table.
func (p *progress) phase(name string) *atomic.Int64 {
	p.rows.Store(0)
	p.phaseFrom = time.Now()
	p.name.Store(&name)
	return &p.rows
}

func (p *progress) done() {
	name := p.name.Swap(nil)
	if name != nil {
		fmt.Fprintf(p.out, "  %-14s %10d rows in %6s (total %s)\n", *name, p.rows.Load(),
			time.Since(p.phaseFrom).Round(100*time.Millisecond), p.elapsed())
	}
}

// step reports a step that has no rows to count.
func (p *progress) step(what string, from time.Time) {
	fmt.Fprintf(p.out, "  %-40s in %6s (total %s)\n", what, time.Since(from).Round(100*time.Millisecond), p.elapsed())
}

func (p *progress) close() {
	close(p.stop)
	<-p.stopped
}
