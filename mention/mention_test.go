package mention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no mentions", nil},
		{"@alice", []string{"alice"}},
		{"hi @Alice and @bob_1!", []string{"alice", "bob_1"}},
		{"thanks @alice.", []string{"alice"}},
		{"@a.b.c rocks", []string{"a.b.c"}},
		{"mail bob@example.com now", nil},
		{"write to @bob@example.com", nil},
		{"@@alice", nil},
		{"(@alice) \"@bob\"", []string{"alice", "bob"}},
		{"@ab is too short, @abc is not", []string{"abc"}},
		{"@" + strings.Repeat("x", 31), nil},
		{"@" + strings.Repeat("x", 30), []string{strings.Repeat("x", 30)}},
		{"@alice @ALICE @Alice", []string{"alice"}},
		{"é@alice", []string{"alice"}}, // a non-ASCII letter is not part of a username
		{"@alice\n@bob\t@carol", []string{"alice", "bob", "carol"}},
	} {
		if got := Parse(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Parse(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestParseCapsAtMax(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "@user%03d ", i)
	}
	got := Parse(b.String())
	if len(got) != Max || got[0] != "user000" || got[Max-1] != fmt.Sprintf("user%03d", Max-1) {
		t.Fatalf("50 mentions gave %d: %q", len(got), got)
	}
}
