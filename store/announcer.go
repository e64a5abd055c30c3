package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// announcer announces, after their commits, the notifications that set statements made
// (announceLater), in batches: while one announce_notifications statement runs, the next
// announcements queue and go together in the one after it. So a lone like is announced at once
// and a storm of likes costs a few announcement statements a second, not one per like (a
// round trip and a commit each). Announcing is best effort as before: a notification not
// announced (the database unreachable for a moment, the process stopping) is still listed and
// is replayed to a stream that reconnects. A goroutine runs only while there is work.
type announcer struct {
	db *gorm.DB

	mu     sync.Mutex
	queued []string
	busy   bool
	idle   *sync.Cond // signalled when busy turns false (wait, for tests)
}

const (
	// announceBatch caps the messages of one statement (each "<id>:<recipient>": ~15 bytes).
	announceBatch   = 500
	announceTimeout = 5 * time.Second
)

func newAnnouncer(db *gorm.DB) *announcer {
	a := &announcer{db: db}
	a.idle = sync.NewCond(&a.mu)
	return a
}

// announce queues messages ("<id>:<recipient>,...", as a set statement returns them) and
// returns at once.
func (a *announcer) announce(messages string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queued = append(a.queued, messages)
	if !a.busy {
		a.busy = true
		go a.drain()
	}
}

func (a *announcer) drain() {
	for {
		a.mu.Lock()
		batch := a.queued[:min(len(a.queued), announceBatch)]
		a.queued = a.queued[len(batch):]
		if len(batch) == 0 {
			a.queued, a.busy = nil, false
			a.idle.Broadcast()
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
		_ = a.db.WithContext(ctx).Exec(`SELECT announce_notifications(?)`, strings.Join(batch, ",")).Error
		cancel()
	}
}

// wait returns when everything queued so far has been sent.
func (a *announcer) wait() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.busy {
		a.idle.Wait()
	}
}
