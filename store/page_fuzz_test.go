package store

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"testing"
	"time"

	"tiktok/errs"
)

// FuzzDecodeCursor feeds any string to the cursor decoder of both kinds of list. Invariants: it
// never panics; what it accepts has a positive id and, for lists by time, a timestamp
// PostgreSQL can hold, or a finite score for the trending list; an accepted cursor encodes
// again to one that decodes to the same position; and parseCursor refuses what the decoder
// refuses with a 400 naming the cursor.
func FuzzDecodeCursor(f *testing.F) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		"", "!!", "17", "0", "99999999999", b64("v1:1743000000000:42"), b64("s1:40123.456789012345:7"),
		b64("v1:9999999999999999:1"), b64("v1:-9999999999999999:1"), b64("v1:253402300799999:1"),
		b64("v1:-62135596800000:1"), b64("v1:+5:1"), b64("v1:05:01"), b64("v1:1:0"), b64("v1:1:2147483648"),
		b64("s1:NaN:1"), b64("s1:1e999:1"), b64("s1:-0:1"), b64("s1:5e-324:1"), b64("s1:0x1p-2:3"),
		b64("v1:1:1:1"), b64("v1::1"), b64("s1:1_000:1"), "djE6MToxCg", "djE6MTox==",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, s string, byScore bool) {
		p, ok := decodeCursor(s, byScore)
		spec := listSpec{keys: keyset{byScore: byScore}, resolve: func(context.Context, int32) (position, bool, error) {
			return position{}, false, nil // no item has this id
		}}
		_, err := parseCursor(context.Background(), s, spec)
		if !ok {
			var e *errs.Error
			if err == nil || !errors.As(err, &e) || e.Kind != errs.KindInvalid || e.Fields["cursor"] == "" {
				t.Fatalf("%q refused by the decoder, yet parseCursor says %v", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q decoded to %+v, yet parseCursor says %v", s, p, err)
		}
		if p.ID < 1 {
			t.Fatalf("%q: id %d", s, p.ID)
		}
		if byScore && (math.IsNaN(p.Score) || math.IsInf(p.Score, 0)) {
			t.Fatalf("%q: score %v", s, p.Score)
		}
		if !byScore && (p.At.Before(minCursorTime) || p.At.After(maxCursorTime) || p.At.Location() != time.UTC) {
			t.Fatalf("%q: time %v out of range", s, p.At)
		}
		again, ok := decodeCursor(encodeCursor(p, byScore), byScore)
		if !ok || again.ID != p.ID || !again.At.Equal(p.At) || again.Score != p.Score ||
			math.Signbit(again.Score) != math.Signbit(p.Score) {
			t.Fatalf("%q: %+v encodes to %q, which decodes to %+v (%v)", s, p, encodeCursor(p, byScore), again, ok)
		}
	})
}
