package hashtag

import "strings"

// Case is one caption and the tags Parse must find in it.
type Case struct {
	Caption string
	Tags    []string
}

// Cases is the table of parser cases. It lives outside the test files so that the backfill
// migration's test can run the same captions through a real database and compare.
func Cases() []Case {
	long := strings.Repeat("x", MaxLen)
	return []Case{
		{"", nil},
		{"no tags here", nil},
		{"#dance", []string{"dance"}},
		{"#Dance #FYP", []string{"dance", "fyp"}},
		{"#café au lait", []string{"café"}},
		{"#CAFÉ", []string{"café"}},
		{"cafe\u0301 #cafe\u0301", []string{"cafe\u0301"}}, // a combining accent is part of the tag
		{"#日本 #東京タワー", []string{"日本", "東京タワー"}},
		{"#हिन्दी", []string{"हिन्दी"}},
		{"#a_b", []string{"a_b"}},
		{"#_", []string{"_"}},
		{"a#b", nil},
		{"1#b", nil},
		{"é#b", nil},
		{"_#b", []string{"b"}}, // '_' is not a letter or digit
		{"#a#b", []string{"a"}},
		{"#1", []string{"1"}},
		{"#2024 #1st", []string{"2024", "1st"}},
		{"#", nil},
		{"# ", nil},
		{"##", nil},
		{"##x", []string{"x"}},
		{"###", nil},
		{"#go!", []string{"go"}},
		{"#go, #run. #jump? (#swim) \"#fly\" #end…", []string{"go", "run", "jump", "swim", "fly", "end"}},
		{"#a-b", []string{"a"}},
		{"#a'b", []string{"a"}},
		{"#dance #Dance #DANCE", []string{"dance"}},
		{"(#x)[#y]{#z}", []string{"x", "y", "z"}},
		{"#tag\n#next\t#tab", []string{"tag", "next", "tab"}},
		{"#emoji😀 #😀", []string{"emoji"}},
		{"#" + long, []string{long}},
		{"#" + long + "x #ok", []string{"ok"}}, // over 100 characters: no tag, not a cut one
		{"\xff#bad\xffbytes", []string{"bad"}},
		{"email@x.com#frag", nil},
		{"https://x.com/#anchor", []string{"anchor"}},
	}
}
