package database_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"tiktok/database"
	"tiktok/hashtag"
	"tiktok/internal/testdb"
)

// The backfill, on a database the Prisma version made, stores for every caption exactly the
// tags the Go parser finds: every case of the parser's table, across several batches.
func TestUpgradeBackfillsHashtagsFromPrismaCaptions(t *testing.T) {
	defer database.SetBackfillBatch(7)()
	prisma, _ := testdb.NewDatabase(t)
	for _, stmt := range append(prismaMigrationSQL, prismaRows...) {
		testdb.MustRun(t, prisma, stmt)
	}
	var cases []hashtag.Case
	for _, c := range hashtag.Cases() {
		if utf8.ValidString(c.Caption) { // a text column cannot hold the others
			cases = append(cases, c)
		}
	}
	var b strings.Builder
	for i := range 31 {
		fmt.Fprintf(&b, "#t%d ", i)
	}
	cases = append(cases, hashtag.Case{Caption: b.String(), Tags: hashtag.Parse(b.String())})
	// Each case twice, a day apart, as a Prisma client writes it (updated_at by the client).
	for round := range 2 {
		for i, c := range cases {
			testdb.MustRun(t, prisma, `INSERT INTO videos (user_id, caption, video_url, created_at, updated_at)
				VALUES (?, ?, 'https://example.com/t.mp4', now() - ? * interval '1 day', now())`,
				1+i%12, c.Caption, round)
		}
	}
	testdb.MustRun(t, prisma, `INSERT INTO videos (user_id, caption, video_url, updated_at) VALUES (1, NULL, 'u', now())`)

	if err := database.Migrate(t.Context(), prisma); err != nil {
		t.Fatalf("migrating the Prisma database: %v", err)
	}

	var rows []struct {
		ID      int32
		Caption *string
		Tags    string
	}
	testdb.MustScan(t, prisma, &rows, `SELECT v.id, v.caption,
			COALESCE((SELECT string_agg(h.name, ' ' ORDER BY h.name) FROM video_hashtags vh JOIN hashtags h ON h.id = vh.hashtag_id
				WHERE vh.video_id = v.id), '') AS tags
		FROM videos v ORDER BY v.id`)
	withTags := 0
	for _, r := range rows {
		var want []string
		if r.Caption != nil {
			want = slices.Clone(hashtag.Parse(*r.Caption))
		}
		slices.Sort(want)
		if got := r.Tags; got != strings.Join(want, " ") {
			t.Errorf("video %d %q: stored %q, the parser finds %q", r.ID, deref(r.Caption), got, want)
		}
		if len(want) > 0 {
			withTags++
		}
	}
	if withTags < 2*20 {
		t.Fatalf("only %d videos with tags: the test data is too thin", withTags)
	}
	testdb.AssertCountersExact(t, prisma)
	var dance int32
	testdb.MustScan(t, prisma, &dance, `SELECT video_count FROM hashtags WHERE name = 'dance'`)
	if dance != 2*3 { // "#dance", "#Dance #FYP", "#dance #Dance #DANCE", twice each
		t.Fatalf("dance counts %d, want 6", dance)
	}

	// Migrating again (even with the bookkeeping gone) adds nothing.
	var before int64
	testdb.MustScan(t, prisma, &before, `SELECT count(*) FROM video_hashtags`)
	testdb.MustRun(t, prisma, `DELETE FROM `+database.MigrationsTable)
	if err := database.Migrate(t.Context(), prisma); err != nil {
		t.Fatal(err)
	}
	var after int64
	testdb.MustScan(t, prisma, &after, `SELECT count(*) FROM video_hashtags`)
	if after != before {
		t.Fatalf("a second run changed the tags: %d rows, then %d", before, after)
	}
	testdb.AssertCountersExact(t, prisma)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
