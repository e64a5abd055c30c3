package store

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

func TestCursorsRoundTripAndRefuseWhatTheyDidNotMake(t *testing.T) {
	at := position{At: time.Date(2025, 3, 25, 17, 11, 38, 123e6, time.UTC), ID: 42}
	got, ok := decodeCursor(encodeCursor(at, false), false)
	if !ok || !got.At.Equal(at.At) || got.ID != 42 {
		t.Fatalf("time cursor round trip: %+v %v", got, ok)
	}
	score := position{Score: 40123.456789012345, ID: 7}
	got, ok = decodeCursor(encodeCursor(score, true), true)
	if !ok || got.Score != score.Score || got.ID != 7 {
		t.Fatalf("score cursor round trip: %+v %v", got, ok)
	}
	if _, ok := decodeCursor(encodeCursor(at, false), true); ok {
		t.Fatal("a time cursor was taken by the trending list")
	}
	if _, ok := decodeCursor(encodeCursor(score, true), false); ok {
		t.Fatal("a score cursor was taken by a list by time")
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "!!", b64("v1:x:1"), b64("v1:1:0"), b64("x:1"), b64("v1:1:1:1"),
		b64("v1:9999999999999999:1"),   // past year 9999: PostgreSQL would refuse the timestamp
		b64("v1:-99999999999999999:1"), // before year 1
		b64("v1:1:99999999999"),        // id past int32
	} {
		if _, ok := decodeCursor(bad, false); ok {
			t.Errorf("time cursor %q decoded", bad)
		}
	}
	for _, bad := range []string{b64("s1:NaN:1"), b64("s1:+Inf:1"), b64("s1:1e999:1"), b64("s1:x:1")} {
		if _, ok := decodeCursor(bad, true); ok {
			t.Errorf("score cursor %q decoded", bad)
		}
	}
}

func TestTimestampIsJavaScriptISO(t *testing.T) {
	ts := Timestamp(time.Date(2025, 3, 25, 19, 11, 38, 123456789, time.FixedZone("CEST", 2*3600)))
	b, _ := json.Marshal(ts)
	if string(b) != `"2025-03-25T17:11:38.123Z"` {
		t.Fatalf("got %s", b)
	}
	b, _ = json.Marshal(Timestamp(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)))
	if string(b) != `"2025-01-02T03:04:05.000Z"` {
		t.Fatalf("got %s", b)
	}
}

func TestTieredCursorsRoundTripAndRefuseOthers(t *testing.T) {
	p := position{Tier: 2, Score: 1.2345678901234567e+12, ID: 99}
	got, ok := decodeTieredCursor(encodeTieredCursor(p))
	if !ok || got.Tier != 2 || got.Score != p.Score || got.ID != 99 {
		t.Fatalf("tiered cursor round trip: %+v %v", got, ok)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{encodeCursor(p, true), encodeCursor(p, false), b64("t1:2:1:0"), b64("t1:-1:1:1"),
		b64("t1:10:1:1"), b64("t1:02:1:1"), b64("t1:+2:1:1"), b64("t1:x:1:1"), b64("t1:1:NaN:1"), b64("t1:1:1e999:1"),
		b64("t1:1:1"), b64("t1:1:1:1:1"), b64("t1:1:1:99999999999")} {
		if _, ok := decodeTieredCursor(bad); ok {
			t.Errorf("tiered cursor %q decoded", bad)
		}
	}
	if _, ok := decodeCursor(encodeTieredCursor(p), true); ok {
		t.Error("a tiered cursor was taken by the trending list")
	}
}
