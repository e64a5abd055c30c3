package main

import (
	"math/rand/v2"
	"testing"
)

func TestAllocateHitsTheTotalWithinTheCap(t *testing.T) {
	for _, c := range []struct {
		name         string
		total, cap   int64
		n            int
		wantTopAtCap bool
	}{
		{"nothing to share", 0, 10, 5, false},
		{"sparse", 1000, 1000, 10000, false},
		{"the cap cuts the head", 50000, 1000, 10000, true},
		{"every slot full", 600, 60, 10, true},
		{"one short of full", 599, 60, 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			counts := allocate(c.total, c.n, c.cap)
			var sum int64
			for r, n := range counts {
				if n < 0 || int64(n) > c.cap {
					t.Fatalf("rank %d got %d, outside 0..%d", r, n, c.cap)
				}
				sum += int64(n)
			}
			if sum != c.total {
				t.Errorf("counts add up to %d, want %d", sum, c.total)
			}
			if c.wantTopAtCap && int64(counts[0]) != c.cap {
				t.Errorf("the top item got %d, want the cap %d", counts[0], c.cap)
			}
			if c.n > 1 && counts[0] < counts[c.n-1] {
				t.Errorf("the top item got %d, fewer than the last (%d)", counts[0], counts[c.n-1])
			}
		})
	}
}

func TestPickerDrawsDistinctIDsAndSkipsTheExcluded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := newPicker(20)
	for k := 0; k <= 19; k++ {
		seen := map[int32]bool{}
		p.pick(r, 20, k, 7, func(id int32) {
			if id < 1 || id > 20 || id == 7 || seen[id] {
				t.Fatalf("k=%d: bad or repeated id %d", k, id)
			}
			seen[id] = true
		})
		if len(seen) != k {
			t.Errorf("k=%d: drew %d ids", k, len(seen))
		}
	}
}
