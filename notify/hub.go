// Package notify carries new notifications to the open streams of this server instance
// (GET /api/notifications/stream). Every instance holds ONE PostgreSQL connection that LISTENs
// on database.NotificationChannel; the trigger on notifications sends "<id>:<recipient>" at
// the commit of the action, whichever instance ran it, and the Hub fans it out in memory to the
// recipient's streams here. The payload is small on purpose: a stream loads the row itself (it
// may be gone already: the action was undone).
//
// A dropped listening connection reconnects with backoff; notifications committed while it was
// down were never heard, so after reconnecting the Hub tells every stream to catch up from the
// database (Event.Resync), and each stream sends only what it has not sent. A stream that
// cannot keep up (its buffer of events is full) is dropped, not waited for: its channel is
// closed, the stream ends, and the client reconnects with Last-Event-ID, which replays what it
// missed. Close ends every stream, for a clean shutdown.
package notify

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"tiktok/database"
)

// DefaultBuffer is how many events a stream may have waiting before it is dropped as too slow.
const DefaultBuffer = 64

// Event is what a stream is told: notification ID is new for its user, or (Resync) the
// listener reconnected and notifications may have been missed.
type Event struct {
	ID     int32
	Resync bool
}

// Subscription is one stream's place in the Hub. C is closed when the stream must end: the
// Hub is closing, or the stream fell behind (Dropped reports which).
type Subscription struct {
	UserID  int32
	C       <-chan Event
	c       chan Event
	hub     *Hub
	dropped atomic.Bool
}

// Dropped reports whether the Hub dropped the subscription for falling behind.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close removes the subscription (a stream that ended on its own).
func (s *Subscription) Close() { s.hub.remove(s, false) }

// ErrClosed answers Subscribe after Close.
var ErrClosed = errors.New("notify: hub closed")

// Hub is the listener and fan-out of one instance.
type Hub struct {
	db     *gorm.DB
	log    *slog.Logger
	buffer int

	mu     sync.Mutex
	subs   map[int32]map[*Subscription]struct{}
	closed bool
	count  int

	listening chan struct{} // closed once the first LISTEN is in place
	onceUp    sync.Once
	start     sync.Once
	done      chan struct{}
	stopped   chan struct{} // closed when the listener has stopped
	// reconnects counts successful LISTENs after the first (tests and metrics).
	reconnects atomic.Int64
	// conn is the pid of the listening backend, so a test can cut it (pg_terminate_backend).
	pid atomic.Uint32
}

// Options tune a Hub; the zero value is the default.
type Options struct {
	Log *slog.Logger
	// Buffer is each stream's queue length (DefaultBuffer when 0).
	Buffer int
}

// New returns a Hub on db's primary. It starts listening on Start, or on the first Subscribe
// (a router no stream ever uses holds no connection).
func New(db *gorm.DB, o Options) *Hub {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	return &Hub{db: db, log: o.Log, buffer: o.Buffer, subs: map[int32]map[*Subscription]struct{}{},
		listening: make(chan struct{}), done: make(chan struct{}), stopped: make(chan struct{})}
}

// Listening is closed once the Hub first listens: notifications committed after it reach the
// streams.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// ListenerPID is the server process id of the listening connection (0 while none).
func (h *Hub) ListenerPID() uint32 { return h.pid.Load() }

// Reconnects is how many times the listener reconnected after its first LISTEN.
func (h *Hub) Reconnects() int64 { return h.reconnects.Load() }

// Streams is how many subscriptions are open.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// Subscribe opens a subscription for user's notifications (starting the listener if it has not
// started). Notifications committed after Listening is closed reach it.
func (h *Hub) Subscribe(user int32) (*Subscription, error) {
	h.Start()
	c := make(chan Event, h.buffer)
	s := &Subscription{UserID: user, C: c, c: c, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	m := h.subs[user]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[user] = m
	}
	m[s] = struct{}{}
	h.count++
	return s, nil
}

// remove takes s out of the Hub and closes its channel, once.
func (h *Hub) remove(s *Subscription, dropped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s, dropped)
}

func (h *Hub) removeLocked(s *Subscription, dropped bool) {
	m := h.subs[s.UserID]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	if len(m) == 0 {
		delete(h.subs, s.UserID)
	}
	h.count--
	s.dropped.Store(dropped)
	close(s.c)
}

// deliver hands ev to user's subscriptions (every subscription when user is 0), never
// blocking: a full buffer drops its subscription.
func (h *Hub) deliver(user int32, ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	send := func(s *Subscription) {
		select {
		case s.c <- ev:
		default:
			h.removeLocked(s, true)
		}
	}
	if user != 0 {
		for s := range h.subs[user] {
			send(s)
		}
		return
	}
	for _, m := range h.subs {
		for s := range m {
			send(s)
		}
	}
}

// Close ends every subscription and refuses new ones; Run returns soon after.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for _, m := range h.subs {
		for s := range m {
			h.removeLocked(s, false)
		}
	}
	h.mu.Unlock()
	close(h.done)
}

// Wait blocks until the listener has stopped (after Close); at once if it never started.
func (h *Hub) Wait() {
	h.start.Do(func() { close(h.stopped) })
	<-h.stopped
}

// Start starts the listener, once; Close stops it.
func (h *Hub) Start() {
	h.start.Do(func() { go h.run() })
}

// run listens until Close, reconnecting with backoff (100 ms doubling to 5 s) when the
// connection drops.
func (h *Hub) run() {
	defer close(h.stopped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.done
		cancel()
	}()
	backoff := 100 * time.Millisecond
	first := true
	for {
		heard, err := h.listenOnce(ctx, first)
		if ctx.Err() != nil {
			return
		}
		if heard {
			first, backoff = false, 100*time.Millisecond
		}
		h.log.Warn("notification listener lost its connection; reconnecting", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listenOnce takes a connection out of the pool, LISTENs and dispatches until it fails. The
// connection is then discarded (never returned to the pool still listening). listened reports
// whether LISTEN succeeded.
func (h *Hub) listenOnce(ctx context.Context, first bool) (listened bool, err error) {
	sqlDB, err := h.db.DB()
	if err != nil {
		return false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("notify: the database driver is %T, not pgx", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+database.NotificationChannel); err != nil {
			return fmt.Errorf("%w: LISTEN: %v", driver.ErrBadConn, err)
		}
		listened = true
		h.pid.Store(pc.PgConn().PID())
		if first {
			h.onceUp.Do(func() { close(h.listening) })
		} else {
			// Whatever committed while we were not listening was never heard: every stream
			// catches up from the database.
			h.reconnects.Add(1)
			h.deliver(0, Event{Resync: true})
		}
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				h.pid.Store(0)
				return fmt.Errorf("%w: %v", driver.ErrBadConn, err)
			}
			id, user, ok := parsePayload(n.Payload)
			if !ok {
				h.log.Warn("notification payload not understood", "payload", n.Payload)
				continue
			}
			h.deliver(user, Event{ID: id})
		}
	})
	return listened, err
}

// parsePayload reads "<id>:<recipient>".
func parsePayload(p string) (id, user int32, ok bool) {
	a, b, found := strings.Cut(p, ":")
	if !found {
		return 0, 0, false
	}
	i, err1 := strconv.ParseInt(a, 10, 32)
	u, err2 := strconv.ParseInt(b, 10, 32)
	if err1 != nil || err2 != nil || i < 1 || u < 1 {
		return 0, 0, false
	}
	return int32(i), int32(u), true
}
