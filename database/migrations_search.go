package database

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// --- 202611300010_search -------------------------------------------------------------------
// Search (API.md, "Discovery") is case- and accent-insensitive and tolerates typos. Two
// extensions that ship with PostgreSQL's contrib do the work:
//
//   - unaccent strips accents ("Café" -> "Cafe"). unaccent() is only STABLE (its dictionary
//     could change), so an index cannot call it; f_unaccent is the IMMUTABLE wrapper that names
//     the dictionary by schema, which is the usual way to index it. Every search expression, in
//     the indexes and in the queries (store/search.go), is written with it, so they match.
//   - pg_trgm compares strings by their trigrams: its GIN operator class serves LIKE 'prefix%'
//     and the similarity operator % on users' usernames and names and on hashtags' names
//     (lower-case already; lower() keeps the one expression for every name).
//
// Videos are searched with full-text search over a stored generated tsvector: the caption
// (whose #tags are words of it) weighted A, the sound weighted B, in the `simple` configuration
// (no stemming, no stop words, so every language works) after f_unaccent. Stored rather than
// an expression index because the ranking (ts_rank) reads the vector of every match: an
// expression index would make each of them re-parse its caption. Like trending_score it is
// computed by PostgreSQL on every insert and update, whoever writes, and the models leave it
// out (GORM never writes it; AutoMigrate never touches a column the models do not name).
//
// Creating an extension needs the CREATE privilege on the database (both are "trusted"
// extensions since PostgreSQL 13) or a superuser. Where the migration's role cannot, the
// migration fails, and with it the server's start, with a message naming the statements a
// superuser must run once; after that the migration finds them and goes on.

const searchVectorExpr = `setweight(to_tsvector('simple'::regconfig, f_unaccent(COALESCE(caption, ''))), 'A') || ` +
	`setweight(to_tsvector('simple'::regconfig, f_unaccent(COALESCE(audio_name, ''))), 'B')`

func addSearch(tx *gorm.DB) error {
	for _, ext := range []string{"pg_trgm", "unaccent"} {
		if err := createExtension(tx, ext); err != nil {
			return err
		}
	}
	// The schemas the extensions live in (public here; "extensions" on some managed services):
	// the wrapper and the operator class are named with them, so neither depends on search_path.
	unaccentSchema, err := extensionSchema(tx, "unaccent")
	if err != nil {
		return err
	}
	trgmSchema, err := extensionSchema(tx, "pg_trgm")
	if err != nil {
		return err
	}
	trgmOps := quoteIdent(trgmSchema) + ".gin_trgm_ops"
	err = execAll(tx,
		fmt.Sprintf(`CREATE OR REPLACE FUNCTION f_unaccent(text) RETURNS text
			LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
			AS $fn$ SELECT %[1]s.unaccent('%[1]s.unaccent'::regdictionary, $1) $fn$`, quoteIdent(unaccentSchema)),
		`CREATE INDEX IF NOT EXISTS users_username_trgm_idx ON users USING gin (lower(f_unaccent(username)) `+trgmOps+`)`,
		`CREATE INDEX IF NOT EXISTS users_name_trgm_idx ON users USING gin (lower(f_unaccent(name)) `+trgmOps+`)`,
		`CREATE INDEX IF NOT EXISTS hashtags_name_trgm_idx ON hashtags USING gin (lower(f_unaccent(name)) `+trgmOps+`)`,
		// The type-ahead's order among prefix matches: for a short, common prefix PostgreSQL
		// walks these and stops at the fifth match instead of ranking every match.
		`CREATE INDEX IF NOT EXISTS users_follower_count_id_idx ON users (follower_count DESC, id DESC)`,
		`CREATE INDEX IF NOT EXISTS hashtags_video_count_id_idx ON hashtags (video_count DESC, id DESC)`,
	)
	if err != nil {
		return err
	}
	var n int64
	if err := tx.Raw(`SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'videos' AND column_name = 'search_vector'`).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		if err := execAll(tx, `ALTER TABLE videos ADD COLUMN search_vector tsvector
			GENERATED ALWAYS AS (`+searchVectorExpr+`) STORED`); err != nil {
			return err
		}
	}
	return execAll(tx, `CREATE INDEX IF NOT EXISTS videos_search_vector_idx ON videos USING gin (search_vector)`)
}

// createExtension creates ext unless it exists; a refusal for want of privilege says what a
// superuser must run.
func createExtension(tx *gorm.DB, ext string) error {
	var n int64
	if err := tx.Raw(`SELECT count(*) FROM pg_extension WHERE extname = ?`, ext).Scan(&n).Error; err != nil || n > 0 {
		return err
	}
	err := tx.Exec(`CREATE EXTENSION IF NOT EXISTS ` + ext).Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "0A000" || pgErr.Code == "58P01") {
		// 42501 insufficient privilege; 0A000 / 58P01: the extension is not installed (no contrib).
		return fmt.Errorf("search needs the PostgreSQL extensions pg_trgm and unaccent, and this role cannot create %s (%s). "+
			"Run once as a superuser in this database: CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE EXTENSION IF NOT EXISTS unaccent; "+
			"(on Debian/Ubuntu they come with the postgresql-contrib package), then start again: %w", ext, pgErr.Message, err)
	}
	return err
}

func extensionSchema(tx *gorm.DB, ext string) (string, error) {
	var schema []string
	if err := tx.Raw(`SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ?`, ext).
		Scan(&schema).Error; err != nil {
		return "", err
	}
	if len(schema) == 0 {
		return "", fmt.Errorf("extension %s is not installed", ext)
	}
	return schema[0], nil
}

// quoteIdent quotes a schema name for SQL text (names from the catalog, never from a client).
func quoteIdent(s string) string {
	out := `"`
	for _, r := range s {
		if r == '"' {
			out += `""`
		} else {
			out += string(r)
		}
	}
	return out + `"`
}

// dropSearch undoes addSearch, the extensions included (a rollback of every migration leaves
// an empty schema). DROP EXTENSION without CASCADE fails, and so stops the rollback, if
// something outside these migrations still uses one.
func dropSearch(tx *gorm.DB) error {
	return execAll(tx,
		`DROP INDEX IF EXISTS videos_search_vector_idx`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS search_vector`,
		`DROP INDEX IF EXISTS hashtags_video_count_id_idx`,
		`DROP INDEX IF EXISTS users_follower_count_id_idx`,
		`DROP INDEX IF EXISTS hashtags_name_trgm_idx`,
		`DROP INDEX IF EXISTS users_name_trgm_idx`,
		`DROP INDEX IF EXISTS users_username_trgm_idx`,
		`DROP FUNCTION IF EXISTS f_unaccent(text)`,
		`DROP EXTENSION IF EXISTS unaccent`,
		`DROP EXTENSION IF EXISTS pg_trgm`)
}

// --- 202611300011_search_nearest -----------------------------------------------------------
// The users' similarity tier (store/search.go) takes the usernames and the names nearest to
// the query first and stops at a bound: the <-> distance of pg_trgm, which only its GiST
// operator class can return in order (the GIN indexes above answer "similar or not" for every
// candidate, and for a query like "usre1" that shares a trigram or two with all 100k seeded
// userN names, PostgreSQL rechecked all of them: half a second). About 2 s per 100k users to
// build.
//
// With GiST beside GIN, PostgreSQL also took the GiST indexes for the exact and prefix tiers
// (= and LIKE 'prefix%'), a few milliseconds each for nothing: btree indexes of the same folded
// expressions with text_pattern_ops answer both in a few index pages.
func addSearchNearest(tx *gorm.DB) error {
	trgmSchema, err := extensionSchema(tx, "pg_trgm")
	if err != nil {
		return err
	}
	gistOps := quoteIdent(trgmSchema) + ".gist_trgm_ops"
	return execAll(tx,
		`CREATE INDEX IF NOT EXISTS users_username_trgm_gist_idx ON users USING gist (lower(f_unaccent(username)) `+gistOps+`)`,
		`CREATE INDEX IF NOT EXISTS users_name_trgm_gist_idx ON users USING gist (lower(f_unaccent(name)) `+gistOps+`)`,
		`CREATE INDEX IF NOT EXISTS users_username_folded_idx ON users (lower(f_unaccent(username)) text_pattern_ops)`,
		`CREATE INDEX IF NOT EXISTS users_name_folded_idx ON users (lower(f_unaccent(name)) text_pattern_ops)`)
}

func dropSearchNearest(tx *gorm.DB) error {
	return execAll(tx,
		`DROP INDEX IF EXISTS users_name_folded_idx`,
		`DROP INDEX IF EXISTS users_username_folded_idx`,
		`DROP INDEX IF EXISTS users_name_trgm_gist_idx`,
		`DROP INDEX IF EXISTS users_username_trgm_gist_idx`)
}

// --- 202611300050_search_walk --------------------------------------------------------------
// The videos' search walks the trending order and stops at the page's last match
// (store/search.go). Through videos_trending_score_id_idx each row walked was a heap fetch to
// read its search_vector: a word or phrase in 0.1-1% of the videos made the first page read
// 10-20k heap rows (30-130 ms). videos_search_walk_idx holds the vector beside the order, so
// the walk is an index-only scan that tests each entry in the index page (3-4 ms for the same
// 19k entries).
//
// A btree entry holds at most about 2.7 kB, and a long caption's vector can be larger (the
// insert would fail), so the index takes only the vectors whose text form is at most
// searchWalkMaxText bytes: the binary form of a tsvector is at most twice its text form (per
// lexeme: 4 bytes of entry, the lexeme, 2 bytes of count and 2 per position, against the
// quoted lexeme, a colon, and per position at least one digit and the weight letter, which
// the vectors always have, with a comma or a space), so an entry is at most about 2.4 kB. The
// other vectors, rarer, are walked through videos_search_walk_long_idx, the same order for
// them alone; the store merges the two walks. Both predicates are IMMUTABLE expressions that
// store/search.go repeats exactly, or the planner could not use the indexes.
//
// Only ready videos are searched (API.md, "Media processing"; the status column comes with
// 202611300040_media): both predicates and the store's conditions say "status = 'ready'", so
// the walks hold only what search may list and a video leaves or joins them with its status.
//
// Index-only means the visibility map: pages changed since the last VACUUM send the walk to
// the heap for their rows (as before). Autovacuum keeps it current; the seeder vacuums.
const searchWalkMaxText = "1200"

func addSearchWalk(tx *gorm.DB) error {
	return execAll(tx,
		`CREATE INDEX IF NOT EXISTS videos_search_walk_idx ON videos (trending_score DESC, id DESC) INCLUDE (search_vector)
			WHERE octet_length(search_vector::text) <= `+searchWalkMaxText+` AND status = 'ready'`,
		`CREATE INDEX IF NOT EXISTS videos_search_walk_long_idx ON videos (trending_score DESC, id DESC)
			WHERE octet_length(search_vector::text) > `+searchWalkMaxText+` AND status = 'ready'`)
}

func dropSearchWalk(tx *gorm.DB) error {
	return execAll(tx,
		`DROP INDEX IF EXISTS videos_search_walk_long_idx`,
		`DROP INDEX IF EXISTS videos_search_walk_idx`)
}

// --- 202611300051_search_similar_paths -----------------------------------------------------
// The users' similarity tier reads the nearest names through GIN when the query's trigrams
// are rare among the names and through GiST when they are common (store/search_trigrams.go).
// Two things make that possible:
//
//   - extended statistics on the trigrams of the folded username and name: ANALYZE keeps
//     their most common trigrams with their frequencies (pg_stats_ext_exprs), from which the
//     store estimates how many rows GIN would recheck. Nothing else reads them.
//   - the GiST indexes rebuilt with the collation "C" on their column: PostgreSQL matches an
//     index to a condition only when their collations agree, so the GIN form of the query
//     (the folded name in the default collation) can no longer be answered through GiST,
//     which it preferred, reading all of it; the GiST form names COLLATE "C". Trigram
//     operators ignore collations, so the answers are the same.
//
// About 2 s per 100k users for the indexes, 1 s for the ANALYZE.
func addSearchSimilarPaths(tx *gorm.DB) error {
	return rebuildUserTrigramGiST(tx, ` COLLATE "C"`,
		`CREATE STATISTICS IF NOT EXISTS users_username_trgm_stats ON (show_trgm(lower(f_unaccent(username)))) FROM users`,
		`CREATE STATISTICS IF NOT EXISTS users_name_trgm_stats ON (show_trgm(lower(f_unaccent(name)))) FROM users`,
		`ANALYZE users`)
}

func dropSearchSimilarPaths(tx *gorm.DB) error {
	return rebuildUserTrigramGiST(tx, ``,
		`DROP STATISTICS IF EXISTS users_name_trgm_stats`,
		`DROP STATISTICS IF EXISTS users_username_trgm_stats`)
}

// rebuildUserTrigramGiST recreates the users' GiST trigram indexes with this collation clause
// ("" the column's), then runs then.
func rebuildUserTrigramGiST(tx *gorm.DB, collate string, then ...string) error {
	trgmSchema, err := extensionSchema(tx, "pg_trgm")
	if err != nil {
		return err
	}
	gistOps := quoteIdent(trgmSchema) + ".gist_trgm_ops"
	return execAll(tx, append([]string{
		`DROP INDEX IF EXISTS users_username_trgm_gist_idx`,
		`DROP INDEX IF EXISTS users_name_trgm_gist_idx`,
		`CREATE INDEX users_username_trgm_gist_idx ON users USING gist ((lower(f_unaccent(username)))` + collate + ` ` + gistOps + `)`,
		`CREATE INDEX users_name_trgm_gist_idx ON users USING gist ((lower(f_unaccent(name)))` + collate + ` ` + gistOps + `)`,
	}, then...)...)
}

// --- 202611300052_search_similar_window ----------------------------------------------------
// The users' similarity tier reads a query whose trigrams most names share through a window
// of trigram counts instead of a whole GiST index (store/search.go, similarWindow): per
// column, a btree of the folded name's trigram count and a GIN index of its trigrams as an
// array (array_ops: "holds any of these trigrams", which gin_trgm_ops cannot ask). Both
// expressions are repeated exactly by the store. About 1 s per 100k users for the four.
func addSearchSimilarWindow(tx *gorm.DB) error {
	var stmts []string
	for _, col := range []string{"username", "name"} {
		folded := `lower(f_unaccent(` + col + `))`
		stmts = append(stmts,
			`CREATE INDEX IF NOT EXISTS users_`+col+`_trgm_count_idx ON users ((array_length(show_trgm(`+folded+`), 1)))`,
			`CREATE INDEX IF NOT EXISTS users_`+col+`_trgm_set_idx ON users USING gin ((show_trgm(`+folded+`)))`)
	}
	return execAll(tx, stmts...)
}

func dropSearchSimilarWindow(tx *gorm.DB) error {
	return execAll(tx,
		`DROP INDEX IF EXISTS users_name_trgm_set_idx`,
		`DROP INDEX IF EXISTS users_name_trgm_count_idx`,
		`DROP INDEX IF EXISTS users_username_trgm_set_idx`,
		`DROP INDEX IF EXISTS users_username_trgm_count_idx`)
}
