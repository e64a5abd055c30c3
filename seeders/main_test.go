package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

// db is this package's migrated test database. The tests wipe and reseed it, so none of
// them runs in parallel.
var db *gorm.DB

func TestMain(m *testing.M) { testdb.Main(m, &db) }

// testNow pins the run's clock, so that two runs make the very same timestamps.
var testNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// harness runs the seeder command against a test database and records what it did.
type harness struct {
	env      environment
	connects int
	stdout   bytes.Buffer
	stderr   bytes.Buffer
}

func newHarness(target *gorm.DB, appEnv string) *harness {
	h := &harness{}
	h.env = environment{
		appEnv:     appEnv,
		bcryptCost: 4, // the cheapest cost bcrypt allows; tests verify hashes, not their strength
		stdout:     &h.stdout,
		stderr:     &h.stderr,
		now:        func() time.Time { return testNow },
		connect: func(context.Context) (*gorm.DB, func(), error) {
			h.connects++
			return target, func() {}, nil
		},
	}
	return h
}

func (h *harness) run(t *testing.T, args ...string) error {
	t.Helper()
	h.stdout.Reset()
	h.stderr.Reset()
	return seedCommand(context.Background(), h.env, args)
}

func (h *harness) mustRun(t *testing.T, args ...string) {
	t.Helper()
	if err := h.run(t, args...); err != nil {
		t.Fatalf("seeders %s: %v\nstderr:\n%s", strings.Join(args, " "), err, h.stderr.String())
	}
}

func count(t *testing.T, db *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	return n
}

// dumpOrder lists every seeded table with the order that makes its dump stable.
var dumpOrder = []struct{ table, orderBy string }{
	{"users", "id"}, {"videos", "id"}, {"comments", "id"},
	{"video_likes", "user_id, video_id"}, {"comment_likes", "user_id, comment_id"},
	{"follows", "follower_id, following_id"}, {"refresh_tokens", "id"},
}

// dump returns every row of every seeded table, every column but the password hash (bcrypt
// salts each hash at random, so it differs between runs by design).
func dump(t *testing.T, db *gorm.DB) string {
	t.Helper()
	var b strings.Builder
	for _, d := range dumpOrder {
		var rows string
		q := fmt.Sprintf(`SELECT COALESCE(string_agg((to_jsonb(x) - 'password')::text, E'\n' ORDER BY %s), '') FROM %s x`, d.orderBy, d.table)
		if err := db.Raw(q).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "-- %s\n%s\n", d.table, rows)
	}
	return b.String()
}

// foreignKeyChecks count the rows whose reference points nowhere.
var foreignKeyChecks = map[string]string{
	"videos.user_id":           `SELECT count(*) FROM videos x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.user_id)`,
	"comments.user_id":         `SELECT count(*) FROM comments x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.user_id)`,
	"comments.video_id":        `SELECT count(*) FROM comments x WHERE NOT EXISTS (SELECT 1 FROM videos p WHERE p.id = x.video_id)`,
	"video_likes.user_id":      `SELECT count(*) FROM video_likes x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.user_id)`,
	"video_likes.video_id":     `SELECT count(*) FROM video_likes x WHERE NOT EXISTS (SELECT 1 FROM videos p WHERE p.id = x.video_id)`,
	"comment_likes.user_id":    `SELECT count(*) FROM comment_likes x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.user_id)`,
	"comment_likes.comment_id": `SELECT count(*) FROM comment_likes x WHERE NOT EXISTS (SELECT 1 FROM comments p WHERE p.id = x.comment_id)`,
	"follows.follower_id":      `SELECT count(*) FROM follows x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.follower_id)`,
	"follows.following_id":     `SELECT count(*) FROM follows x WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = x.following_id)`,
}

func assertForeignKeysValid(t *testing.T, db *gorm.DB) {
	t.Helper()
	for name, q := range foreignKeyChecks {
		if bad := count(t, db, q); bad != 0 {
			t.Errorf("%s: %d rows point at nothing", name, bad)
		}
	}
}

// duplicateChecks count pairs present more than once.
var duplicateChecks = map[string]string{
	"video_likes":   `SELECT count(*) - count(DISTINCT (user_id, video_id)) FROM video_likes`,
	"comment_likes": `SELECT count(*) - count(DISTINCT (user_id, comment_id)) FROM comment_likes`,
	"follows":       `SELECT count(*) - count(DISTINCT (follower_id, following_id)) FROM follows`,
}

func assertNoDuplicatesOrSelfFollows(t *testing.T, db *gorm.DB) {
	t.Helper()
	for name, q := range duplicateChecks {
		if d := count(t, db, q); d != 0 {
			t.Errorf("%s: %d duplicate pairs", name, d)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM follows WHERE follower_id = following_id`); n != 0 {
		t.Errorf("%d self-follows", n)
	}
}

// schema describes the keys, indexes, constraints and triggers (with their enabled state) of
// the application's tables, to compare a seeded database with a freshly migrated one.
func schema(t *testing.T, db *gorm.DB) string {
	t.Helper()
	var lines []string
	err := db.Raw(`
		SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' validated=' || convalidated
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		UNION ALL
		SELECT 'index ' || indexname || ' ' || regexp_replace(indexdef, 'public\.', '', 'g')
		FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' enabled=' || tgenabled::text
		FROM pg_trigger WHERE NOT tgisinternal
		ORDER BY 1`).Scan(&lines).Error
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
