package middleware

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The pattern saneRequestID replaced; the two must agree on every input.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)

func TestSaneRequestIDMatchesThePattern(t *testing.T) {
	inputs := []string{"", "a", "A-b_c.d:e", strings.Repeat("x", 128), strings.Repeat("x", 129),
		"with space", "slash/", "é", "tab\t", "new\nline", "x\x00", "0123456789abcdef", "-", ":::", "a+b", "%41"}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcXYZ019._:-/ +%é\x00\n"
	for range 5000 {
		b := make([]byte, r.IntN(140))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := saneRequestID(in), requestIDPattern.MatchString(in); got != want {
			t.Fatalf("saneRequestID(%q) = %v, the pattern says %v", in, got, want)
		}
	}
}

func TestNewRequestIDsAre32HexAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("bad or repeated request id %q", id)
		}
		seen[id] = true
	}
}

