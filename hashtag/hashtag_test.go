package hashtag_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"tiktok/hashtag"
)

// The table (Cases) is shared with the backfill's test, which runs the same captions through a
// migrated database.
func TestParse(t *testing.T) {
	for _, c := range hashtag.Cases() {
		t.Run(c.Caption, func(t *testing.T) {
			if got := hashtag.Parse(c.Caption); !slices.Equal(got, c.Tags) {
				t.Fatalf("Parse(%q) = %q, want %q", c.Caption, got, c.Tags)
			}
		})
	}
}

func TestParseKeepsTheFirstThirtyDistinctTags(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := range 31 {
		fmt.Fprintf(&b, "#t%d #T%d ", i, i) // each twice, in two cases: counted once
		if i < hashtag.MaxPerCaption {
			want = append(want, fmt.Sprintf("t%d", i))
		}
	}
	if got := hashtag.Parse(b.String()); !slices.Equal(got, want) {
		t.Fatalf("31 tags: got %d %q, want the first 30", len(got), got)
	}
}

func TestNormalize(t *testing.T) {
	long := strings.Repeat("a", hashtag.MaxLen)
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"dance", "dance", true},
		{"#Dance", "dance", true},
		{"CAFÉ", "café", true},
		{"日本", "日本", true},
		{"a_b", "a_b", true},
		{"1", "1", true},
		{"_", "_", true},
		{long, long, true},
		{long + "a", "", false},
		{"", "", false},
		{"#", "", false},
		{"##x", "", false},
		{"a b", "", false},
		{"a-b", "", false},
		{"go!", "", false},
		{"a\x00", "", false},
		{"\xff", "", false},
		{"\u0301a", "", false}, // a combining mark cannot come first
		{"trending", "trending", true},
	}
	for _, c := range cases {
		got, ok := hashtag.Normalize(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParse checks what must hold for any caption: at most 30 distinct names, each a name
// Normalize accepts unchanged, and a caption made of those names parses back to them.
func FuzzParse(f *testing.F) {
	for _, c := range hashtag.Cases() {
		f.Add(c.Caption)
	}
	f.Add("#İstanbul #ǅemal #ß #ΣΊΣΥΦΟΣ")
	f.Fuzz(func(t *testing.T, caption string) {
		tags := hashtag.Parse(caption)
		if len(tags) > hashtag.MaxPerCaption {
			t.Fatalf("%d tags", len(tags))
		}
		seen := map[string]bool{}
		for _, tag := range tags {
			if seen[tag] {
				t.Fatalf("%q twice in %q", tag, tags)
			}
			seen[tag] = true
			if n, ok := hashtag.Normalize(tag); !ok || n != tag {
				t.Fatalf("Parse gave %q, which Normalize maps to %q, %v", tag, n, ok)
			}
			if !utf8.ValidString(tag) || utf8.RuneCountInString(tag) > hashtag.MaxLen {
				t.Fatalf("bad name %q", tag)
			}
		}
		var b strings.Builder
		for _, tag := range tags {
			b.WriteString("#" + tag + " ")
		}
		if again := hashtag.Parse(b.String()); !slices.Equal(again, tags) {
			t.Fatalf("round trip of %q gave %q", tags, again)
		}
	})
}
