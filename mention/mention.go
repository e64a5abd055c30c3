// Package mention finds the @username mentions of a caption or a comment: the one parser the
// store uses for every text that can mention someone.
package mention

import "strings"

// Max is how many different users one text can mention; later mentions are ignored.
const Max = 20

// Username lengths of API.md's username rule (3 to 30 of [A-Za-z0-9_.]).
const (
	minLen = 3
	maxLen = 30
)

func usernameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.'
}

// Parse returns the lower-cased usernames mentioned in text, in order of first mention, each
// once, at most Max. A mention is '@' followed by 3 to 30 username characters, where the '@'
// does not follow a username character (so "bob@example.com" mentions nobody) and the name is
// not followed by another '@' (an e-mail address written after an '@'). Trailing dots are taken
// as the sentence's punctuation ("thanks @alice."), so a username that ends with a dot cannot
// be mentioned at the end of a sentence. E-mail-shaped usernames (allowed for the course's
// signup page) are never mentions: '@' cannot be part of the name.
func Parse(text string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(text); i++ {
		if text[i] != '@' || (i > 0 && (usernameByte(text[i-1]) || text[i-1] == '@')) {
			continue
		}
		j := i + 1
		for j < len(text) && usernameByte(text[j]) {
			j++
		}
		if j < len(text) && text[j] == '@' {
			i = j - 1
			continue
		}
		name := strings.TrimRight(text[i+1:j], ".")
		i = j - 1
		if len(name) < minLen || len(name) > maxLen {
			continue
		}
		name = strings.ToLower(name)
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
		if len(out) == Max {
			break
		}
	}
	return out
}
