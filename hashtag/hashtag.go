// Package hashtag is the one place that says what a hashtag is (API.md, "Discovery"). The store
// stores what Parse finds in a caption, the backfill migration runs Parse over the captions
// already in a database, and responses list Parse(caption), so all three agree by construction.
//
// The rule: a tag is '#' followed by a run of letters, digits and '_' (combining marks may
// follow them: "é" written as e + U+0301, the vowel signs of Devanagari), where the '#' does
// not follow a letter, digit or mark ("a#b" is no tag, nor is the "#b" of "#a#b"). The run
// ends at the first other character, so trailing punctuation is not part of it ("#go!" is
// "go"). Names are case-folded with strings.ToLower. A run longer than MaxLen characters is no
// tag at all (it is not cut short: the name a page is reached by must be the whole run).
// "#" alone and "##" are no tags; "##x" is the tag "x" (its second '#' follows a '#', not a
// letter or digit, exactly as API.md words the rule), and "#1" is the tag "1".
package hashtag

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxLen is the longest tag name, in characters (runes), before and after folding.
	MaxLen = 100
	// MaxPerCaption is how many distinct tags one caption keeps: the first ones it names.
	MaxPerCaption = 30
)

// starts reports whether r can begin a tag name.
func starts(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// continues reports whether r can be part of a tag name after its first character.
func continues(r rune) bool { return starts(r) || unicode.Is(unicode.M, r) }

// wordy reports whether a '#' after r is inside a word, so it starts no tag.
func wordy(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) }

// Parse returns the distinct tag names of caption (folded, without '#'), in order of first
// appearance, at most MaxPerCaption of them. It returns nil when there are none.
func Parse(caption string) []string {
	var tags []string
	prev := rune(-1)
	for i := 0; i < len(caption); {
		r, size := utf8.DecodeRuneInString(caption[i:])
		if r != '#' || (prev >= 0 && wordy(prev)) {
			prev = r
			i += size
			continue
		}
		// A '#' that may open a tag: the run is everything after it that can be part of one.
		start := i + size
		end := start
		n := 0
		for end < len(caption) {
			c, sz := utf8.DecodeRuneInString(caption[end:])
			if (n == 0 && !starts(c)) || (n > 0 && !continues(c)) {
				break
			}
			end += sz
			n++
		}
		if n == 0 {
			prev = r
			i = start
			continue
		}
		if name, ok := fold(caption[start:end], n); ok && !contains(tags, name) {
			tags = append(tags, name)
			if len(tags) == MaxPerCaption {
				return tags
			}
		}
		last, _ := utf8.DecodeLastRuneInString(caption[start:end])
		prev = last
		i = end
	}
	return tags
}

// fold lower-cases a run of n runes, refusing runs (or folded names) longer than MaxLen.
func fold(run string, n int) (string, bool) {
	if n > MaxLen {
		return "", false
	}
	name := strings.ToLower(run)
	if utf8.RuneCountInString(name) > MaxLen {
		return "", false
	}
	return name, true
}

func contains(tags []string, name string) bool {
	for _, t := range tags {
		if t == name {
			return true
		}
	}
	return false
}

// Normalize turns the name a client asks for ("Dance", "#dance", "%23Dance" once unescaped)
// into the stored name. ok is false when no caption could carry that tag: empty, too long, or
// with a character a tag cannot have; such a name names no tag (a 404, never a query).
func Normalize(name string) (string, bool) {
	name = strings.TrimPrefix(name, "#")
	if name == "" || !utf8.ValidString(name) {
		return "", false
	}
	n := 0
	for _, r := range name {
		if (n == 0 && !starts(r)) || (n > 0 && !continues(r)) {
			return "", false
		}
		n++
	}
	return fold(name, n)
}
