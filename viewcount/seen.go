package viewcount

import "time"

// seenSet is the in-memory de-duplication: the viewer-video pairs counted within their window,
// at most max of them. Every pair gets the same window, so the order of insertion is the
// order of expiry: a FIFO queue beside the map drops the expired pairs from its front, and,
// when the set is full, the oldest pair before its time (onEvict). Memory is therefore bounded
// by max whatever the clients send: about 90 bytes a pair (the map entry and the queue entry).
// Only the counter's goroutine uses it.
type seenSet struct {
	max     int
	expiry  map[[16]byte]int64 // unix nanoseconds
	order   []seenEntry
	head    int
	onEvict func()
}

type seenEntry struct {
	key [16]byte
	exp int64
}

func newSeenSet(max int, onEvict func()) *seenSet {
	return &seenSet{max: max, expiry: map[[16]byte]int64{}, onEvict: onEvict}
}

func (s *seenSet) has(k [16]byte, now time.Time) bool {
	exp, ok := s.expiry[k]
	return ok && now.UnixNano() < exp
}

// add records k until exp, after making room: expired pairs go, then the oldest while full.
func (s *seenSet) add(k [16]byte, now, exp time.Time) {
	t := now.UnixNano()
	for s.head < len(s.order) {
		front := s.order[s.head]
		live := s.expiry[front.key] == front.exp // else a newer entry of the key replaced it
		if front.exp > t && live && len(s.expiry) < s.max {
			break
		}
		s.head++
		if live {
			delete(s.expiry, front.key)
			if front.exp > t {
				s.onEvict()
			}
		}
	}
	// Compact the queue once its dead front is half of it.
	if s.head > 1024 && s.head*2 > len(s.order) {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
	e := exp.UnixNano()
	s.expiry[k] = e
	s.order = append(s.order, seenEntry{k, e})
}

func (s *seenSet) len() int { return len(s.expiry) }
