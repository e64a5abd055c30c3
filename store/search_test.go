package store_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// marker is a word no other row of the shared test database has: the searches of a test
// include it, so they see only that test's rows.
func marker() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "zq" + hex.EncodeToString(b)
}

// namedUser creates a user with exactly this username (and name, when not empty).
func namedUser(t testing.TB, username, name string) int32 {
	t.Helper()
	u := &models.User{Username: username, Email: username + "@example.com", Password: "x"}
	if name != "" {
		u.Name = &name
	}
	must(t, store.New(db).Users.Create(ctx, u))
	return u.ID
}

// follow makes n new users follow id.
func follow(t testing.TB, id int32, n int) {
	t.Helper()
	for _, f := range newUsers(t, "fan", n) {
		must(t, db.Exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?)`, f, id).Error)
	}
}

func captioned(t testing.TB, owner int32, caption, sound string) int32 {
	t.Helper()
	v := &models.Video{UserID: owner, VideoURL: "https://cdn.example.com/v.mp4", Caption: &caption}
	if sound != "" {
		v.AudioName = &sound
	}
	must(t, errOnly(store.New(db).Videos.Create(ctx, v)))
	return v.ID
}

// like adds n likes to video and folds them into its stored counters, where the ranks read
// them (trending_score ranks by the stored columns: a fold interval behind at most).
func like(t testing.TB, video int32, n int) {
	t.Helper()
	for _, u := range newUsers(t, "liker", n) {
		must(t, db.Exec(`INSERT INTO video_likes (user_id, video_id) VALUES (?, ?)`, u, video).Error)
	}
	for {
		folded, err := store.New(db).FoldCounterDeltas(ctx, 1000)
		must(t, err)
		if folded == 0 {
			return
		}
	}
}

func searchUsers(t testing.TB, q string, limit int) []int32 {
	t.Helper()
	p, err := store.New(db).Search.Users(ctx, 0, q, store.PageRequest{Limit: limit})
	must(t, err)
	out := []int32{}
	for _, u := range p.Items {
		out = append(out, u.ID)
	}
	return out
}

// tagged makes a tag name carried by n new videos: the store keeps a video's tags from its
// caption, and the video_hashtags triggers count them.
func tagged(t testing.TB, name string, n int) {
	t.Helper()
	owner := newUser(t, "tagger").ID
	for range n {
		captioned(t, owner, "#"+name, "")
	}
}

func searchHashtags(t testing.TB, q string) []string {
	t.Helper()
	p, err := store.New(db).Search.Hashtags(ctx, q, store.PageRequest{Limit: 50})
	must(t, err)
	out := []string{}
	for _, h := range p.Items {
		out = append(out, h.Name)
	}
	return out
}

func TestHashtagSearchRanksTheTagThenPrefixesThenSimilarByUse(t *testing.T) {
	m := marker()[:8]
	tagged(t, m, 1)
	tagged(t, m+"a", 1)
	tagged(t, m+"b", 3)
	similar := m[:4] + "x" + m[5:]
	tagged(t, similar, 5)
	tagged(t, m+"gone", 0) // no video carries it any more
	want := []string{m, m + "b", m + "a", similar}
	for _, q := range []string{m, "#" + m, strings.ToUpper(m), " ##" + m + " "} {
		if got := searchHashtags(t, q); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", q, got, want)
		}
	}
	tagged(t, "café"+m[2:], 1)
	if got := searchHashtags(t, "CAFE"+m[2:]); len(got) == 0 || got[0] != "café"+m[2:] {
		t.Errorf("CAFE... did not find #café... first: %v", got)
	}
	tagged(t, "dance", 2)
	if got := searchHashtags(t, "dnace"); !slices.Contains(got, "dance") {
		t.Errorf("dnace did not find #dance: %v", got)
	}
	// The type-ahead: prefix matches only, the tag itself first.
	sug, err := store.New(db).Search.Suggest(ctx, 0, "#"+m)
	must(t, err)
	var names []string
	for _, h := range sug.Hashtags {
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{m, m + "b", m + "a"}) {
		t.Errorf("suggest #%s: %v", m, names)
	}
}

func searchVideos(t testing.TB, q string) []int32 {
	t.Helper()
	p, err := store.New(db).Search.Videos(ctx, 0, q, store.PageRequest{Limit: 50})
	must(t, err)
	out := []int32{}
	for _, v := range p.Items {
		out = append(out, v.ID)
	}
	return out
}

func TestUserSearchRanksExactThenPrefixThenNameThenSimilarThenFollowers(t *testing.T) {
	m := marker()[:8] // short: similarity is measured on the whole username
	exact := namedUser(t, m, "")
	prefixFew := namedUser(t, m+"_a", "")
	prefixMany := namedUser(t, m+"_b", "")
	follow(t, prefixMany, 3)
	// A name with the word in the middle is no prefix match, but a close trigram match.
	byName := namedUser(t, "n"+marker(), "Ｘ "+m+" fan")
	byNamePrefix := namedUser(t, "p"+marker(), m+" Éclair")
	// A less similar username: one letter changed in the middle.
	similar := namedUser(t, m[:4]+"x"+m[5:], "")

	got := searchUsers(t, m, 50)
	want := []int32{exact, prefixMany, prefixFew, byNamePrefix, byName, similar}
	if !slices.Equal(got, want) {
		t.Fatalf("search %q: got %v, want %v (exact, prefix with followers, prefix, name prefix, more similar, less similar)", m, got, want)
	}
	// Case and accents do not matter, on either side.
	if got := searchUsers(t, m+" ECLAIR", 50); !slices.Contains(got, byNamePrefix) {
		t.Fatalf("%q did not find the name %q: %v", m+" ECLAIR", m+" Éclair", got)
	}
	upper := namedUser(t, "Café"+m[2:], "")
	if got := searchUsers(t, "CAFE"+m[2:], 50); len(got) == 0 || got[0] != upper {
		t.Fatalf("CAFE... did not find Café... first: %v", got)
	}
}

func TestUserSearchToleratesATypo(t *testing.T) {
	dance := namedUser(t, "dance", "")
	if got := searchUsers(t, "dnace", 50); !slices.Contains(got, dance) {
		t.Fatalf("dnace did not find dance: %v", got)
	}
}

// The similarity tier reads the nearest names through GIN, GiST or the trigram-count window,
// as the trigram statistics say is cheaper (store/search_trigrams.go): all must list the same
// users, in the same order, whichever trigrams the window takes as rare.
func TestUserSimilarityTierListsTheSameUsersThroughGINAndGiST(t *testing.T) {
	m := marker()[:8]
	var all []int32
	for i, name := range []string{m + "ab", m + "ba", m[:3] + "x" + m[4:], "q" + m + "zz"} {
		id := namedUser(t, fmt.Sprintf("u%d%s", i, marker()), "Ana "+name)
		all = append(all, namedUser(t, name, ""), id)
		follow(t, id, i%2)
	}
	st := store.New(db)
	routes := []struct {
		name   string
		search *store.Search
	}{
		{"GIN", store.SearchThrough(st, false)}, {"GiST", store.SearchThrough(st, true)},
		{"the window, no trigram rare", store.SearchWindow(st, 0)}, {"the window, two rare", store.SearchWindow(st, 2)},
		{"the window, every trigram rare", store.SearchWindow(st, -1)},
	}
	list := func(s *store.Search, q string, limit int) []int32 {
		p, err := s.Users(ctx, 0, q, store.PageRequest{Limit: limit})
		must(t, err)
		var ids []int32
		for _, u := range p.Items {
			ids = append(ids, u.ID)
		}
		return ids
	}
	for _, q := range []string{m[:2] + m[3:] + "ab", m[1:] + "b", "ana " + m + "a", m[:6] + "!!", "%%%", "!!"} {
		var lists [2][]int32
		lists[0] = list(routes[0].search, q, 50)
		for _, r := range routes[1:] {
			if lists[1] = list(r.search, q, 50); !slices.Equal(lists[0], lists[1]) {
				t.Fatalf("%q: GIN listed %v, %s %v", q, lists[0], r.name, lists[1])
			}
		}
		if q[0] != '%' && q[0] != '!' && len(lists[0]) == 0 {
			t.Fatalf("%q: nothing similar among %v", q, all)
		}
	}
}

// similarPath takes GIN when the rows holding the query's trigrams, past the k-1 most common
// (k = ceil(0.2 x their number), what a GIN candidate must share), are few.
func TestSimilarPathEstimatesTheGINCandidates(t *testing.T) {
	common := map[string]float64{"  u": 1, " us": 1, "use": 0.9}
	five := []string{"  u", " us", "usr", "sre", "re1"}                   // k = 1: every row holding "  u"
	six := []string{"  u", "uex", "exr", "xr1", "r1 ", "zzz"}             // k = 2: the rare ones only
	ten := []string{"  u", " us", "a", "b", "c", "d", "e", "f", "g", "h"} // k = 2: " us" stays
	for _, c := range []struct {
		name     string
		rows     float64
		trigrams []string
		gist     bool
	}{
		{"one common trigram of five", 100000, five, true},
		{"one common trigram of six", 100000, six, false},
		{"two common trigrams of ten", 100000, ten, true},
		{"a small table", 1000, ten, false},
		{"no trigram", 0, nil, true},
	} {
		if got := store.SimilarPath(c.rows, common, 0.001, c.trigrams); got != c.gist {
			t.Errorf("%s: gist %v, want %v", c.name, got, c.gist)
		}
	}
}

// The window takes as rare the least frequent trigrams while the rows holding them, summed,
// stay within what GIN rechecks cheaply (2,000); the others bound the trigram count.
func TestRareTrigramsAreTheLeastFrequentWithinTheGINBound(t *testing.T) {
	freqs := map[string]float64{"  u": 1, " us": 1, "use": 0.9, "er1": 0.011, "r1 ": 0.01}
	for _, c := range []struct {
		rows     float64
		trigrams []string
		want     []string
	}{
		{100000, []string{"  u", " us", "sre", "usr", "re1", "e1 "}, []string{"sre", "usr", "re1", "e1 "}},
		{100000, []string{"  u", "er1", "r1 ", "xyz"}, []string{"xyz", "r1 "}}, // 10 + 1,000 rows; er1 would add 1,100
		{100000, []string{"  u", " us"}, []string{}},
		{1000, []string{"  u", " us", "use"}, []string{"use", "  u"}}, // 900 + 1,000 rows
	} {
		if got := store.RareTrigrams(c.rows, freqs, 0.0001, c.trigrams); !slices.Equal(got, c.want) {
			t.Errorf("%v of %v rows: rare %v, want %v", c.trigrams, c.rows, got, c.want)
		}
	}
}

func TestVideoSearchUnderstandsPhrasesExclusionsAccentsTagsAndSounds(t *testing.T) {
	m := marker()
	owner := newUser(t, "cook").ID
	phrase := captioned(t, owner, "Quick pasta recipe #food "+m, "")
	reversed := captioned(t, owner, "pasta, but quick "+m, "")
	creme := captioned(t, owner, "Crème BRÛLÉE at night "+m, "")
	cat := captioned(t, owner, "my cat #cat "+m, "")
	catAndDog := captioned(t, owner, "cat and dog "+m, "")
	sound := captioned(t, owner, "morning "+m, "Espresso - Sabrina Carpenter")
	cases := []struct {
		q    string
		want []int32
	}{
		{`"quick pasta" ` + m, []int32{phrase}},
		{`quick pasta ` + m, []int32{phrase, reversed}},
		{`creme brulee ` + m, []int32{creme}},
		{`CRÈME ` + m, []int32{creme}},
		{`cat -dog ` + m, []int32{cat}},
		{`#food ` + m, []int32{phrase}},
		{`espresso sabrina ` + m, []int32{sound}},
		{`cat or espresso ` + m, []int32{cat, catAndDog, sound}},
	}
	for _, c := range cases {
		got := searchVideos(t, c.q)
		if !sameSet(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.q, got, c.want)
		}
	}
}

// The ranking rule changed deliberately (docs/performance.md, "Search"): the match is the
// filter and the order is trending_score (engagement decayed by age), which an index serves;
// a match in the sound counts as any match.
func TestVideoSearchRanksMatchesByEngagementThenNewest(t *testing.T) {
	m := marker()
	owner := newUser(t, "maker").ID
	quiet := captioned(t, owner, "sunset "+m, "")
	popular := captioned(t, owner, "sunset "+m, "")
	like(t, popular, 3)
	inSound := captioned(t, owner, m, "sunset")
	long := captioned(t, owner, "sunset "+m+" "+longWords("r"), "")
	like(t, long, 1)
	captioned(t, owner, m+" sunrise", "") // no match
	got := searchVideos(t, "sunset "+m)
	if want := []int32{popular, long, inSound, quiet}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (more liked first, then at equal engagement the newer; a long caption in its place)", got, want)
	}
}

// longWords is a caption tail of 150 distinct words, whose vector is too long for the
// index-only walk (a text form over 1,200 bytes).
func longWords(seed string) string {
	words := make([]string, 150)
	for k := range words {
		words[k] = fmt.Sprintf("w%sx%03d", seed, k)
	}
	return strings.Join(words, " ")
}

func sameSet(a, b []int32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// searchList is one search as a list of ids, for the walks.
type searchList struct {
	name  string
	fetch func(req store.PageRequest) (store.Page[int32], error)
	all   []int32 // every item the search must return, in any order
	// noBareCursor: the items have no public id (tags are named), so no numeric cursor.
	noBareCursor bool
}

func searchFixture(t *testing.T) []searchList {
	t.Helper()
	m := marker()[:9]
	var users []int32
	for i := range 23 {
		id := namedUser(t, fmt.Sprintf("%s%02d", m, i), "")
		users = append(users, id)
	}
	follow(t, users[3], 2)
	follow(t, users[7], 2) // the same rank as users[3]: the id breaks the tie
	owner := newUser(t, "walker").ID
	var videos []int32
	for i := range 31 {
		caption := m + " clip"
		if i%3 == 0 {
			caption = m + " clip clip " + m // another rank
		}
		if i%4 == 1 {
			// A vector too long for the index-only walk: the page merges both walks.
			caption += " " + longWords(fmt.Sprint(i))
		}
		videos = append(videos, captioned(t, owner, caption, ""))
	}
	if long := ids(t, `SELECT id FROM videos WHERE id IN ? AND octet_length(search_vector::text) > 1200`, videos); len(long) != 8 {
		t.Fatalf("%d videos with a vector for the long walk, want 8", len(long))
	}
	like(t, videos[4], 2)
	like(t, videos[9], 2)
	var tags []string
	for i := range 17 {
		tags = append(tags, fmt.Sprintf("%s%02d", m, i))
		tagged(t, tags[i], 1+i%3) // pairs of equal rank: the id breaks the tie
	}
	st := store.New(db)
	return []searchList{
		{name: "users", all: users, fetch: func(req store.PageRequest) (store.Page[int32], error) {
			p, err := st.Search.Users(ctx, 0, m, req)
			return toIDs(p, err, userID)
		}},
		{name: "videos", all: videos, fetch: func(req store.PageRequest) (store.Page[int32], error) {
			p, err := st.Search.Videos(ctx, 0, m, req)
			return toIDs(p, err, videoID)
		}},
		{name: "hashtags", all: ids(t, `SELECT id FROM hashtags WHERE name LIKE ?`, m+"%"), noBareCursor: true,
			fetch: func(req store.PageRequest) (store.Page[int32], error) {
				p, err := st.Search.Hashtags(ctx, m, req)
				out := store.Page[int32]{NextCursor: p.NextCursor, HasNextPage: p.HasNextPage}
				for _, h := range p.Items {
					out.Items = append(out.Items, ids(t, `SELECT id FROM hashtags WHERE name = ?`, h.Name)[0])
				}
				return out, err
			}},
	}
}

func TestSearchPagesWalkEveryResultOnceInOrder(t *testing.T) {
	for _, l := range searchFixture(t) {
		whole, err := l.fetch(store.PageRequest{Limit: 50})
		must(t, err)
		if !sameSet(whole.Items, l.all) || whole.HasNextPage {
			t.Fatalf("%s: one page of 50 is %v (next %v), want the set %v", l.name, whole.Items, whole.HasNextPage, l.all)
		}
		for limit := 1; limit <= 7; limit++ {
			got := walkSearch(t, l, limit)
			if !slices.Equal(got, whole.Items) {
				t.Fatalf("%s limit %d: walked\n %v\nwant\n %v", l.name, limit, got, whole.Items)
			}
		}
		// A bare numeric cursor starts right after that item.
		for k := range min(len(whole.Items)-1, 10) {
			if l.noBareCursor {
				break
			}
			p, err := l.fetch(store.PageRequest{Limit: 3, Cursor: strconv.Itoa(int(whole.Items[k]))})
			must(t, err)
			if want := whole.Items[k+1 : min(k+4, len(whole.Items))]; !slices.Equal(p.Items, want) {
				t.Fatalf("%s: after item %d got %v, want %v", l.name, whole.Items[k], p.Items, want)
			}
		}
	}
}

func walkSearch(t *testing.T, l searchList, limit int) []int32 {
	t.Helper()
	var got []int32
	cursor := ""
	for n := 1; n < 1000; n++ {
		p, err := l.fetch(store.PageRequest{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("%s page %d: %v", l.name, n, err)
		}
		if len(p.Items) > limit || (p.HasNextPage && len(p.Items) != limit) || p.HasNextPage != (p.NextCursor != nil) {
			t.Fatalf("%s page %d: %d items, next %v, limit %d", l.name, n, len(p.Items), p.HasNextPage, limit)
		}
		got = append(got, p.Items...)
		if !p.HasNextPage {
			return got
		}
		cursor = *p.NextCursor
	}
	t.Fatal("the walk does not end")
	return nil
}

func TestASearchRunsTheSameStatementsForLimitOneAndFifty(t *testing.T) {
	searchFixture(t)
	viewer := newUser(t, "searcher").ID
	st, rec := recordingStore()
	m := marker()
	namedUser(t, m+"x", "")
	captioned(t, viewer, m, "")
	captioned(t, viewer, m, "")
	tagged(t, m+"t", 1)
	tagged(t, m+"u", 1)
	// Every search first sets its transaction's settings (store.Search.read: the similarity
	// threshold, the statement timeout, custom plans). Users: then the page, the viewer's
	// follows. Videos: the page with the viewer's likes, bookmarks and follows in it.
	// Hashtags: the page.
	checks := []struct {
		name string
		want int
		run  func(limit int) error
	}{
		{"users", 3, func(limit int) error {
			return errOnly(st.Search.Users(ctx, viewer, m, store.PageRequest{Limit: limit}))
		}},
		{"videos", 2, func(limit int) error {
			return errOnly(st.Search.Videos(ctx, viewer, m, store.PageRequest{Limit: limit}))
		}},
		{"hashtags", 2, func(limit int) error {
			return errOnly(st.Search.Hashtags(ctx, m, store.PageRequest{Limit: limit}))
		}},
		// The users' page, the viewer's follows, the tags' page.
		{"suggest", 3, func(int) error { return errOnly(st.Search.Suggest(ctx, viewer, m)) }},
	}
	for _, c := range checks {
		for _, limit := range []int{1, 50} {
			rec.Take()
			must(t, c.run(limit))
			if got := rec.Take(); len(got) != c.want {
				t.Errorf("%s limit %d: %d statements, want %d:\n%q", c.name, limit, len(got), c.want, got)
			}
		}
	}
}

// hostileQueries are texts full of the characters that mean something to tsquery, LIKE or
// SQL: every search must answer them without an error.
var hostileQueries = []string{
	`"`, `""`, `"unclosed`, `&`, `|`, `!`, `!!x`, `:*`, `a:*`, `(`, `)`, `((a`, `\`, `\\`, `'`, `''`, `%`, `_`, `%_%`,
	`a & b | !c`, `a <-> b`, `a:A`, `-`, `--`, `- -x`, `or`, `OR or OR`, `"a" -"b" or`, `'; DROP TABLE users; --`,
	`$1`, `?`, `@q`, `@pat`, `@@`, `#`, `##`, `#日本`, `日本語`, `🙂`, `ñ`, `Ⅻ`, `ﬁ`, `x%'||'`, `a\%b`, `*`, `<`, `>`, `~`,
	`   spaced   `, `e` + string(rune(0x301)),
}

func TestHostileQueriesNeverFail(t *testing.T) {
	st := store.New(db)
	for _, q := range hostileQueries {
		checkSearchAnswers(t, st, q)
	}
}

func checkSearchAnswers(t testing.TB, st *store.Store, q string) {
	t.Helper()
	if _, err := st.Search.Users(ctx, 0, q, store.PageRequest{Limit: 5}); err != nil {
		t.Fatalf("users %q: %v", q, err)
	}
	if _, err := st.Search.Videos(ctx, 0, q, store.PageRequest{Limit: 5}); err != nil {
		t.Fatalf("videos %q: %v", q, err)
	}
	if _, err := st.Search.Hashtags(ctx, q, store.PageRequest{Limit: 5}); err != nil {
		t.Fatalf("hashtags %q: %v", q, err)
	}
	if _, err := st.Search.Suggest(ctx, 0, q); err != nil {
		t.Fatalf("suggest %q: %v", q, err)
	}
}

// FuzzSearch: any valid text (the middleware refuses NUL and invalid UTF-8 before) gets an
// answer, never a query error.
func FuzzSearch(f *testing.F) {
	for _, q := range hostileQueries {
		f.Add(q)
	}
	st := store.New(db)
	f.Fuzz(func(t *testing.T, q string) {
		if !validText(q) {
			t.Skip()
		}
		checkSearchAnswers(t, st, q)
	})
}

// validText is what middleware.CheckQuery lets through: UTF-8 without NUL.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// A search statement that runs past the timeout is cancelled and answers 503 unavailable; the
// transaction has the search's settings, and they end with it.
func TestASearchPastItsStatementTimeoutIsUnavailable(t *testing.T) {
	st := store.New(db)
	var settings []string
	err := store.SearchRead(st, ctx, "50ms", func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT current_setting('plan_cache_mode') || ' ' || current_setting('statement_timeout')
			|| ' ' || current_setting('pg_trgm.similarity_threshold')`).Scan(&settings).Error; err != nil {
			return err
		}
		return tx.Exec(`SELECT pg_sleep(2)`).Error
	})
	if !errs.Is(err, errs.KindUnavailable) {
		t.Fatalf("a 2 s statement under a 50 ms timeout: %v, want unavailable", err)
	}
	if len(settings) != 1 || settings[0] != "force_custom_plan 50ms 0.2" {
		t.Fatalf("settings in the transaction: %q", settings)
	}
	var after []string
	must(t, db.Raw(`SELECT current_setting('plan_cache_mode')`).Scan(&after).Error)
	if len(after) != 1 || after[0] != "auto" {
		t.Fatalf("plan_cache_mode after the transaction: %q", after)
	}
}
