package viewcount

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

func key(i int) [16]byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:], uint64(i))
	return k
}

// TestSeenSetIsBounded: a flood of distinct viewers never holds more than max pairs; the
// oldest are forgotten first (and counted), the newest are kept; expired pairs make room
// without counting as evictions.
func TestSeenSetIsBounded(t *testing.T) {
	evicted := 0
	s := newSeenSet(1000, func() { evicted++ })
	now := time.Unix(1_700_000_000, 0)
	for i := range 5000 {
		s.add(key(i), now, now.Add(30*time.Minute))
		if s.len() > 1000 {
			t.Fatalf("%d pairs held after %d adds, bound 1000", s.len(), i+1)
		}
	}
	if evicted != 4000 {
		t.Fatalf("%d evictions, want 4000", evicted)
	}
	if s.has(key(0), now) || !s.has(key(4999), now) || !s.has(key(4000), now) || s.has(key(3999), now) {
		t.Fatal("the set did not keep exactly the newest 1000 pairs")
	}
	if len(s.order)-s.head > 1000 {
		t.Fatalf("the queue holds %d live entries", len(s.order)-s.head)
	}
	// After the window every pair has expired: one add clears them all, no eviction counted.
	later := now.Add(31 * time.Minute)
	if s.has(key(4999), later) {
		t.Fatal("a pair is still seen after its window")
	}
	s.add(key(1), later, later.Add(30*time.Minute))
	if s.len() != 1 || evicted != 4000 {
		t.Fatalf("after expiry: %d pairs, %d evictions; want 1, 4000", s.len(), evicted)
	}
	// A pair re-added after expiry is kept under its new expiry, not dropped by its old entry.
	s.add(key(2), later, later.Add(time.Minute))
	s.add(key(1), later.Add(31*time.Minute), later.Add(61*time.Minute))
	if !s.has(key(1), later.Add(40*time.Minute)) {
		t.Fatal("a pair seen again lost its new window")
	}
}

// TestSeenSetMemoryPerPair measures the heap a full set holds, for the figure in README.
func TestSeenSetMemoryPerPair(t *testing.T) {
	const n = 250_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newSeenSet(n, func() {})
	now := time.Unix(1_700_000_000, 0)
	for i := range n {
		s.add(key(i), now, now.Add(30*time.Minute))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d pairs: %.1f MB, %.0f bytes a pair", n, float64(after.HeapAlloc-before.HeapAlloc)/1e6, per)
	if per > 150 {
		t.Errorf("%.0f bytes a pair: README promises about 90", per)
	}
	runtime.KeepAlive(s)
}
