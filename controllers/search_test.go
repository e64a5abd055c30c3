package controllers_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"tiktok/database"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

var searchTypes = []string{"top", "users", "videos", "hashtags"}

func TestSearchRefusesAMissingEmptyOrOverlongQuery(t *testing.T) {
	api := apitest.New(t, db)
	bad := []string{"", "?q=", "?q=%20%20%20", "?q=" + strings.Repeat("a", 101), "?q=" + strings.Repeat("é", 101),
		"?q=a%00b", "?q=%FF%FE", "?q=a%0Ab", "?q=a&type=people", "?q=a&limit=x"}
	for _, p := range bad {
		api.Do("GET", "/api/search"+p, nil, "").Error(400, "validation_failed")
		if !strings.Contains(p, "type=") && !strings.Contains(p, "limit=") {
			api.Do("GET", "/api/search/suggest"+p, nil, "").Error(400, "validation_failed")
		}
	}
	// 100 characters (not bytes) is allowed.
	api.Do("GET", "/api/search?q="+url.QueryEscape(strings.Repeat("é", 100)), nil, "").Status(200)
}

// hostileText are the characters that mean something to tsquery, LIKE, regular expressions or
// SQL, alone and mixed: each search answers 200, never a query error.
var hostileText = []string{
	`"`, `""`, `"a b`, `&`, `|`, `!`, `!a`, `:*`, `a:*`, `(`, `)`, `(a|b`, `\`, `\\`, `'`, `''`, `%`, `_`, `%%`, `a%`, `_a_`,
	`a & b`, `a | !b`, `a <-> b`, `<2>`, `a:AB`, `-`, `-a`, `--a`, `a -`, `or`, `a or`, `"" -""`, `'; SELECT 1; --`,
	`$1`, `?`, `@q`, `@qn`, `@pat`, `@@`, `#`, `##`, `#a`, `#日本`, `café`, `🙂🙂`, `\%`, `\_`, `[a-z]`, `.*`, `^$`,
	`*`, `~`, `{}`, `/`, `+`, `a+b`, `e` + "\u0301", "\u00a0", `&&||!!`, `:`, `::`, `a:`, `!(a)`, `((((`,
}

func TestSearchAnswersAnyTextWithoutAnError(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("hostile")
	for _, q := range hostileText {
		for _, typ := range searchTypes {
			r := api.Do("GET", "/api/search?type="+typ+"&q="+url.QueryEscape(q), nil, u.Token)
			if strings.TrimSpace(q) == "" {
				r.Error(400, "validation_failed")
				continue
			}
			r.Status(200)
		}
		if strings.TrimSpace(q) != "" {
			api.Do("GET", "/api/search/suggest?q="+url.QueryEscape(q), nil, "").Status(200)
		}
	}
}

// searchData makes, around one marker word, users, videos and tags enough for several pages.
func searchData(t *testing.T, m string) {
	t.Helper()
	testdb.MustRun(t, db, `INSERT INTO users (username, email, password, name)
		SELECT ? || i, ? || i || '@example.com', 'x', 'Name ' || i FROM generate_series(10, 34) i`, m, m)
	testdb.MustRun(t, db, `INSERT INTO videos (user_id, video_url, caption, audio_name, updated_at)
		SELECT (SELECT min(id) FROM users WHERE username LIKE ? || '%'), 'https://cdn.example.com/s.mp4',
			'clip ' || ? || CASE WHEN i % 3 = 0 THEN ' ' || ? ELSE '' END, 'Original Sound', now()
		FROM generate_series(1, 27) i`, m, m, m)
	testdb.MustRun(t, db, `INSERT INTO hashtags (name) SELECT ? || i FROM generate_series(10, 31) i`, m)
	testdb.MustRun(t, db, `INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT v.id, h.id FROM hashtags h JOIN LATERAL (
			SELECT id FROM videos WHERE caption LIKE '%' || ? || '%' ORDER BY id LIMIT 1 + h.id % 3) v ON true
		WHERE h.name LIKE ? || '%'`, m, m)
}

type searchJSON struct {
	Users []struct {
		ID int32 `json:"id"`
	} `json:"users"`
	Videos []struct {
		ID int32 `json:"id"`
	} `json:"videos"`
	Hashtags []struct {
		Name string `json:"name"`
	} `json:"hashtags"`
	Pagination paginationJSON `json:"pagination"`
}

func (s searchJSON) keys(typ string) []string {
	var out []string
	switch typ {
	case "users":
		for _, u := range s.Users {
			out = append(out, fmt.Sprint(u.ID))
		}
	case "hashtags":
		for _, h := range s.Hashtags {
			out = append(out, h.Name)
		}
	default:
		for _, v := range s.Videos {
			out = append(out, fmt.Sprint(v.ID))
		}
	}
	return out
}

func TestSearchPagesThroughTheRouterWalkEachResultOnce(t *testing.T) {
	api := apitest.New(t, db)
	m := "zw" + strings.ToLower(apitest.Unique("k")[2:])
	m = strings.NewReplacer("_", "", "-", "").Replace(m)
	searchData(t, m)
	want := map[string]int{"users": 25, "videos": 27, "hashtags": 22, "top": 27}
	for _, typ := range searchTypes {
		var whole searchJSON
		api.Do("GET", "/api/search?type="+typ+"&limit=50&q="+m, nil, "").Status(200).Decode(&whole)
		all := whole.keys(typ)
		if len(all) != want[typ] {
			t.Fatalf("%s: %d results in one page, want %d", typ, len(all), want[typ])
		}
		for _, limit := range []int{1, 4} {
			var got []string
			cursor := ""
			for n := 0; ; n++ {
				if n > 100 {
					t.Fatalf("%s: the walk does not end", typ)
				}
				var page searchJSON
				api.Do("GET", "/api/search?type="+typ+"&q="+m+path("&limit=%d", limit)+cursor, nil, "").Status(200).Decode(&page)
				if typ == "top" && n == 0 && (len(page.Users) == 0 || len(page.Users) > 3 || len(page.Hashtags) == 0 || len(page.Hashtags) > 5) {
					t.Fatalf("top: first page has %d users, %d hashtags", len(page.Users), len(page.Hashtags))
				}
				got = append(got, page.keys(typ)...)
				if page.Pagination.NextCursor == nil {
					break
				}
				cursor = "&cursor=" + url.QueryEscape(*page.Pagination.NextCursor)
			}
			if !slices.Equal(got, all) {
				t.Fatalf("%s limit %d: walked %v, want %v", typ, limit, got, all)
			}
		}
	}
	var sug searchJSON
	api.Do("GET", "/api/search/suggest?q="+m, nil, "").Status(200).Decode(&sug)
	if len(sug.Users) != 5 || len(sug.Hashtags) != 5 {
		t.Fatalf("suggest: %d users, %d hashtags, want 5 and 5", len(sug.Users), len(sug.Hashtags))
	}
}

// TestSearchRunsTheSameStatementsForAnyPageSize pins the statements of each search for a known
// viewer: auth (token version); every search then sets its transaction's settings (the
// similarity threshold, the statement timeout, custom plans); users: the page, the follows;
// videos: the page with the viewer's likes, bookmarks and follows in it; hashtags: the page; top: all of users, hashtags and
// videos on its first page, only the videos' after.
func TestSearchRunsTheSameStatementsForAnyPageSize(t *testing.T) {
	api, counter := countingAPI(t)
	viewer := api.NewUser("counted")
	m := "zc" + strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(apitest.Unique("k")[2:]))
	searchData(t, m)
	for _, e := range []struct {
		path string
		want int64
	}{
		{"/api/search?type=users&q=" + m, 4},
		{"/api/search?type=videos&q=" + m, 3},
		{"/api/search?type=hashtags&q=" + m, 3},
		{"/api/search?q=" + m, 8},
		{"/api/search/suggest?q=" + m, 4},
	} {
		for _, limit := range []int{1, 50} {
			before := counter.Count()
			api.Do("GET", e.path+path("&limit=%d", limit), nil, viewer.Token).Status(200)
			if n := counter.Count() - before; n != e.want {
				t.Errorf("%s limit %d: %d statements, want %d", e.path, limit, n, e.want)
			}
		}
	}
}

// TestSearchQueriesUseTheirIndexes EXPLAINs the statements every search runs, first and second
// pages, on a database of its own big enough (40k users, 80k videos, 5k tags) for the planner
// to choose by cost with nothing priced out: none may read videos, users or hashtags whole.
func TestSearchQueriesUseTheirIndexes(t *testing.T) {
	big, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	testdb.MustRun(t, big, `INSERT INTO users (username, email, password, name, updated_at)
		SELECT 'member' || i, 'member' || i || '@example.com', 'x', (ARRAY['Ana','Bruno','Chloé','Dmitri','Émile'])[1 + i % 5] || ' ' || i, now()
		FROM generate_series(1, 40000) i`)
	testdb.MustRun(t, big, `INSERT INTO users (username, email, password, updated_at) VALUES ('dance', 'dance@example.com', 'x', now())`)
	words := `ARRAY['morning','routine','city','vibes','challenge','recipe','quick','pasta','sunset','beach','workout','day',
		'cat','dog','funny','travel','diary','tutorial','makeup','coding','night','study','song','cover','guitar','street',
		'food','tour','coffee','art','process','garden','rain','snow','piano','violin','market','bridge','train','museum']`
	testdb.MustRun(t, big, `INSERT INTO videos (user_id, video_url, caption, audio_name, views, updated_at)
		SELECT 1 + i % 40000, 'https://cdn.example.com/v.mp4',
			(`+words+`)[1 + i % 40] || ' ' || (`+words+`)[1 + (i / 40) % 40] || ' ' || (`+words+`)[1 + (i / 1600) % 40]
				|| ' #tag' || (i % 5000) || CASE WHEN i % 20000 = 0 THEN ' rarissime' ELSE '' END,
			CASE WHEN i % 4 = 0 THEN 'Espresso - Sabrina Carpenter' ELSE 'Original Sound - member' || (1 + i % 40000) END,
			i % 1000, now()
		FROM generate_series(1, 80000) i`)
	testdb.MustRun(t, big, `INSERT INTO hashtags (name) SELECT 'tag' || i FROM generate_series(0, 4999) i`)
	testdb.MustRun(t, big, `INSERT INTO hashtags (name) VALUES ('dance')`)
	testdb.MustRun(t, big, `INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT v.id, h.id FROM videos v JOIN hashtags h ON h.name = 'tag' || (v.id % 5000)`)
	testdb.MustRun(t, big, `INSERT INTO video_hashtags (video_id, hashtag_id) SELECT 1, id FROM hashtags WHERE name = 'dance'`)
	testdb.MustRun(t, big, `VACUUM ANALYZE`)

	recording, rec := testdb.Recording(big)
	api := apitest.New(t, recording)
	viewer := api.NewUser("explainer")
	// "member1" is a prefix of 11k usernames and trigram-similar to all 40k "memberN" (the
	// tiers stop at the page), "memebr1" a typo similar to all of them and a prefix of none
	// (the similarity tier's window of trigram counts holds too many usernames: it reads the
	// nearest 50 through the GiST indexes), "mexyz1" shares only the trigrams "  m" and " me"
	// with them (its window holds no memberN: GiST is not read).
	queries := []string{
		"/api/search?type=videos&q=rarissime", "/api/search?type=videos&q=piano+violin", "/api/search?type=videos&q=%22quick+pasta%22",
		"/api/search?type=videos&q=sabrina+-coffee",
		"/api/search?type=users&q=dnace", "/api/search?type=users&q=chloe+1",
		"/api/search?type=users&q=member1", "/api/search?type=users&q=memebr1", "/api/search?type=users&q=mexyz1",
		"/api/search?type=videos&q=sabrina",
		"/api/search?type=hashtags&q=tag12", "/api/search?type=hashtags&q=dnace",
		"/api/search?q=piano+violin", "/api/search/suggest?q=member1", "/api/search/suggest?q=ta",
	}
	for _, q := range queries {
		for _, which := range []string{"first", "second"} {
			rec.Take()
			r := api.Do("GET", q+"&limit=5", nil, viewer.Token).Status(200)
			if which == "second" {
				var page searchJSON
				r.Decode(&page)
				if page.Pagination.NextCursor == nil {
					continue // one page only (suggest, a rare word)
				}
				rec.Take()
				api.Do("GET", q+"&limit=5&cursor="+url.QueryEscape(*page.Pagination.NextCursor), nil, viewer.Token).Status(200)
			}
			explained := 0
			for _, stmt := range rec.Take() {
				if !strings.HasPrefix(strings.TrimSpace(stmt), "SELECT") {
					continue
				}
				explained++
				var lines []string
				testdb.MustScan(t, big, &lines, "EXPLAIN "+stmt)
				plan := strings.Join(lines, "\n")
				for _, table := range []string{"videos", "users", "hashtags"} {
					if strings.Contains(plan, "Seq Scan on "+table) {
						t.Errorf("%s (%s page): sequential scan of %s in\n%s\n%s", q, which, table, stmt, plan)
					}
				}
				// The videos' walks read the vectors from videos_search_walk_idx: the plain
				// trending index would fetch every row walked (the store's predicates and the
				// index's differ).
				if strings.Contains(stmt, "search_vector @@") && strings.Contains(plan, "videos_trending_score_id_idx") {
					t.Errorf("%s (%s page): the videos walk reads the rows, not videos_search_walk_idx:\n%s\n%s", q, which, stmt, plan)
				}
				// The exact username is found through its folded index, not by walking every
				// user in follower order (store/search.go, userTiers).
				if strings.Contains(stmt, "~<=~") && !strings.Contains(plan, "users_username_folded_idx") {
					t.Errorf("%s (%s page): the exact username is not read through users_username_folded_idx:\n%s", q, which, plan)
				}
				// The users' similarity tier (on the first page: the walks to the second may start
				// past it) reads rare trigrams through GIN, common ones ("  m", " me" of every
				// memberN username) through GiST (store/search_trigrams.go).
				if which == "first" && strings.Contains(stmt, "<->") {
					if strings.HasSuffix(q, "q=dnace") && (strings.Contains(plan, "_trgm_gist_idx") || !strings.Contains(plan, "users_username_trgm_idx")) {
						t.Errorf("%s: the similarity tier does not read the usernames through GIN only:\n%s", q, plan)
					}
					if strings.HasSuffix(q, "q=memebr1") && !strings.Contains(plan, "users_username_trgm_gist_idx") {
						t.Errorf("%s: the similarity tier does not read the usernames through GiST:\n%s", q, plan)
					}
					// Common trigrams: the window of trigram counts (store/search.go,
					// similarWindow), GiST only when the window is too wide.
					if strings.HasSuffix(q, "q=mexyz1") || strings.HasSuffix(q, "q=memebr1") {
						for _, index := range []string{"users_username_trgm_count_idx", "users_username_trgm_set_idx"} {
							if !strings.Contains(plan, index) {
								t.Errorf("%s: the similarity tier does not read %s:\n%s", q, index, plan)
							}
						}
					}
					if strings.HasSuffix(q, "q=mexyz1") {
						var analyzed []string
						testdb.MustScan(t, big, &analyzed, "EXPLAIN (ANALYZE, COSTS OFF) "+stmt)
						for _, line := range analyzed {
							if strings.Contains(line, "_trgm_gist_idx") && !strings.Contains(line, "never executed") {
								t.Errorf("%s: the window is narrow, yet a GiST index is read:\n%s", q, strings.Join(analyzed, "\n"))
							}
						}
					}
				}
			}
			if explained == 0 {
				t.Errorf("%s: no statement recorded", q)
			}
		}
	}
}
