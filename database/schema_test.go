package database_test

import (
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"tiktok/database"
	"tiktok/internal/testdb"
	"tiktok/models"
)

// schemaSnapshot reads the public schema from the catalog: columns with type, nullability and
// default; constraints with their definitions; indexes; triggers. Sorted, so two snapshots
// compare equal exactly when the schemas are the same.
func schemaSnapshot(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var out []string
	queries := []string{
		`SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
			|| CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END
			|| COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
		 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		 WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		   AND c.relname <> 'schema_migrations'`,
		`SELECT 'constraint ' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
		 FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = 'public' AND c.relname <> 'schema_migrations'`,
		`SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`,
		`SELECT 'trigger ' || pg_get_triggerdef(tg.oid) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
		 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT tg.tgisinternal`,
		`SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`,
	}
	for _, q := range queries {
		var rows []string
		if err := db.Raw(q).Scan(&rows).Error; err != nil {
			t.Fatalf("snapshot query failed: %v\n%s", err, q)
		}
		out = append(out, rows...)
	}
	slices.Sort(out)
	return out
}

func TestMigratedSchemaMatchesDesign(t *testing.T) {
	snap := strings.Join(schemaSnapshot(t, db), "\n")
	// Every line below is what Prisma generates for the course schema, or one of our additions
	// named in DESIGN.md; each must be present exactly.
	want := []string{
		"column users.id integer not null default nextval('users_id_seq'::regclass)",
		"column users.username text not null",
		"column users.email text not null",
		"column users.password text not null",
		"column users.name text null",
		"column users.bio text null",
		"column users.avatar text null",
		"column users.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column users.updated_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column users.follower_count integer not null default 0",
		"column users.following_count integer not null default 0",
		"column users.video_count integer not null default 0",
		"column users.like_count integer not null default 0",
		"column users.token_version integer not null default 0",
		"column videos.id integer not null default nextval('videos_id_seq'::regclass)",
		"column videos.user_id integer not null",
		"column videos.caption text null",
		"column videos.video_url text not null",
		"column videos.thumbnail_url text null",
		"column videos.audio_name text null",
		"column videos.views integer not null default 0",
		"column videos.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column videos.updated_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column videos.like_count integer not null default 0",
		"column videos.comment_count integer not null default 0",
		// Generated (stored) from the counters, views and age: see migrations_trending.go.
		"column videos.trending_score double precision null default (log(((((1 + like_count) + (2 * comment_count)) + (views / 10)))::double precision) + ((EXTRACT(epoch FROM created_at) / (45000)::numeric))::double precision)",
		"column comments.id integer not null default nextval('comments_id_seq'::regclass)",
		"column comments.content text not null",
		"column comments.user_id integer not null",
		"column comments.video_id integer not null",
		"column comments.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column comments.updated_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column comments.like_count integer not null default 0",
		"column video_likes.user_id integer not null",
		"column video_likes.video_id integer not null",
		"column video_likes.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column comment_likes.user_id integer not null",
		"column comment_likes.comment_id integer not null",
		"column comment_likes.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column users.avatar_storage_path text null",
		"column videos.video_storage_path text null",
		"column videos.thumbnail_storage_path text null",
		"column uploads.storage_path text not null",
		"column uploads.user_id integer not null",
		"column uploads.kind text not null",
		"column uploads.content_type text not null",
		"column uploads.size bigint not null",
		"column uploads.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column uploads.expires_at timestamp(3) without time zone not null",
		"column uploads.registered_at timestamp(3) without time zone null",
		"constraint uploads uploads_pkey PRIMARY KEY (storage_path)",
		"index CREATE INDEX uploads_unregistered_created_at_idx ON public.uploads USING btree (created_at) WHERE (registered_at IS NULL)",
		"column follows.follower_id integer not null",
		"column follows.following_id integer not null",
		"column follows.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",

		"constraint users users_pkey PRIMARY KEY (id)",
		"constraint videos videos_pkey PRIMARY KEY (id)",
		"constraint comments comments_pkey PRIMARY KEY (id)",
		"constraint video_likes video_likes_pkey PRIMARY KEY (user_id, video_id)",
		"constraint comment_likes comment_likes_pkey PRIMARY KEY (user_id, comment_id)",
		"constraint follows follows_pkey PRIMARY KEY (follower_id, following_id)",
		"constraint videos videos_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint comments comments_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint comments comments_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint video_likes video_likes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint video_likes video_likes_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint comment_likes comment_likes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint comment_likes comment_likes_comment_id_fkey FOREIGN KEY (comment_id) REFERENCES comments(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint follows follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint follows follows_following_id_fkey FOREIGN KEY (following_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint follows follows_no_self_follow CHECK ((follower_id <> following_id))",
		"constraint refresh_tokens refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE",

		"index CREATE UNIQUE INDEX users_username_key ON public.users USING btree (username)",
		"index CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)",
		"index CREATE UNIQUE INDEX users_username_lower_key ON public.users USING btree (lower(username))",
		"index CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower(email))",
		"index CREATE INDEX videos_created_at_id_idx ON public.videos USING btree (created_at DESC, id DESC)",
		"index CREATE INDEX videos_trending_score_id_idx ON public.videos USING btree (trending_score DESC, id DESC)",
		"index CREATE INDEX videos_user_id_created_at_id_idx ON public.videos USING btree (user_id, created_at DESC, id DESC)",
		"index CREATE INDEX comments_video_id_created_at_id_idx ON public.comments USING btree (video_id, created_at DESC, id DESC)",
		"index CREATE INDEX follows_following_id_created_at_idx ON public.follows USING btree (following_id, created_at DESC, follower_id DESC)",
		"index CREATE INDEX video_likes_video_id_created_at_idx ON public.video_likes USING btree (video_id, created_at DESC, user_id DESC)",
		"index CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON public.refresh_tokens USING btree (token_hash)",
		// Search (migrations_search.go): trigram indexes on the normalized names, the videos'
		// stored tsvector and its GIN index, the IMMUTABLE unaccent wrapper.
		"column videos.search_vector tsvector null default (setweight(to_tsvector('simple'::regconfig, f_unaccent(COALESCE(caption, ''::text))), 'A'::\"char\") || setweight(to_tsvector('simple'::regconfig, f_unaccent(COALESCE(audio_name, ''::text))), 'B'::\"char\"))",
		"index CREATE INDEX users_username_trgm_idx ON public.users USING gin (lower(f_unaccent(username)) gin_trgm_ops)",
		"index CREATE INDEX users_name_trgm_idx ON public.users USING gin (lower(f_unaccent(name)) gin_trgm_ops)",
		"index CREATE INDEX videos_search_vector_idx ON public.videos USING gin (search_vector)",
		"index CREATE INDEX hashtags_name_trgm_idx ON public.hashtags USING gin (lower(f_unaccent(name)) gin_trgm_ops)",
		"function f_unaccent",
		"index CREATE INDEX users_follower_count_id_idx ON public.users USING btree (follower_count DESC, id DESC)",
		"index CREATE INDEX hashtags_video_count_id_idx ON public.hashtags USING btree (video_count DESC, id DESC)",
		// The videos' search walks (202611300050): index-only for the vectors short enough to
		// sit in a btree entry, the rest apart.
		"index CREATE INDEX videos_search_walk_idx ON public.videos USING btree (trending_score DESC, id DESC) INCLUDE (search_vector) WHERE ((octet_length((search_vector)::text) <= 1200) AND (status = 'ready'::text))",
		"index CREATE INDEX videos_search_walk_long_idx ON public.videos USING btree (trending_score DESC, id DESC) WHERE ((octet_length((search_vector)::text) > 1200) AND (status = 'ready'::text))",

		// Hashtags (migrations_hashtags.go). The names of hashtags.id/name/video_count and
		// video_hashtags.video_id/hashtag_id/created_at are what search queries rely on.
		"column hashtags.id integer not null default nextval('hashtags_id_seq'::regclass)",
		"column hashtags.name text not null",
		"column hashtags.video_count integer not null default 0",
		"column hashtags.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column video_hashtags.video_id integer not null",
		"column video_hashtags.hashtag_id integer not null",
		"column video_hashtags.created_at timestamp(3) without time zone not null default CURRENT_TIMESTAMP",
		"column hashtag_daily_uses.hashtag_id integer not null",
		"column hashtag_daily_uses.day date not null",
		"column hashtag_daily_uses.uses integer not null",
		"constraint hashtags hashtags_pkey PRIMARY KEY (id)",
		"constraint hashtags hashtags_name_key UNIQUE (name)",
		"constraint hashtags hashtags_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 100)))",
		"constraint video_hashtags video_hashtags_pkey PRIMARY KEY (video_id, hashtag_id)",
		"constraint video_hashtags video_hashtags_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint video_hashtags video_hashtags_hashtag_id_fkey FOREIGN KEY (hashtag_id) REFERENCES hashtags(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"constraint hashtag_daily_uses hashtag_daily_uses_pkey PRIMARY KEY (hashtag_id, day)",
		"constraint hashtag_daily_uses hashtag_daily_uses_hashtag_id_fkey FOREIGN KEY (hashtag_id) REFERENCES hashtags(id) ON UPDATE CASCADE ON DELETE CASCADE",
		"index CREATE INDEX video_hashtags_hashtag_id_created_at_idx ON public.video_hashtags USING btree (hashtag_id, created_at DESC, video_id DESC)",
		"index CREATE INDEX hashtag_daily_uses_day_idx ON public.hashtag_daily_uses USING btree (day, hashtag_id) INCLUDE (uses)",
		"trigger CREATE TRIGGER hashtags_protect_counts BEFORE INSERT OR UPDATE ON public.hashtags FOR EACH ROW EXECUTE FUNCTION protect_hashtag_counts()",
		"trigger CREATE TRIGGER video_hashtags_count_insert AFTER INSERT ON public.video_hashtags REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()",
		"trigger CREATE TRIGGER video_hashtags_count_delete AFTER DELETE ON public.video_hashtags REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()",
		"trigger CREATE TRIGGER video_hashtags_count_update AFTER UPDATE ON public.video_hashtags REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_video_hashtags()",
		"trigger CREATE TRIGGER video_hashtags_truncate AFTER TRUNCATE ON public.video_hashtags FOR EACH STATEMENT EXECUTE FUNCTION recount_hashtags_after_truncate()",
		"column video_hashtags.trending_score double precision not null default 0",
		"index CREATE INDEX video_hashtags_hashtag_id_trending_idx ON public.video_hashtags USING btree (hashtag_id, trending_score DESC, video_id DESC)",
		"index CREATE INDEX videos_audio_name_lower_created_at_id_idx ON public.videos USING btree (lower(audio_name), created_at DESC, id DESC)",
		"trigger CREATE TRIGGER videos_score_to_hashtags AFTER UPDATE ON public.videos FOR EACH ROW WHEN ((old.trending_score IS DISTINCT FROM new.trending_score)) EXECUTE FUNCTION videos_score_to_hashtags()",
		"trigger CREATE TRIGGER video_hashtags_created_at BEFORE INSERT OR UPDATE OF video_id ON public.video_hashtags FOR EACH ROW EXECUTE FUNCTION video_hashtags_from_video()",
	}
	for _, line := range want {
		if !strings.Contains("\n"+snap+"\n", "\n"+line+"\n") {
			t.Errorf("schema lacks:\n  %s", line)
		}
	}
	if t.Failed() {
		t.Logf("schema read from the catalog:\n%s", snap)
	}
}

func TestModelsAgreeWithMigrations(t *testing.T) {
	// AutoMigrate of the live models on a migrated database must leave the schema exactly as
	// the versioned migrations built it: the models' tags describe that schema. (GORM re-issues
	// SET DEFAULT CURRENT_TIMESTAMP on every run, which changes nothing, so we compare the
	// catalog before and after rather than the statements.)
	fresh, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, fresh)
	if err := fresh.AutoMigrate(models.All()...); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	if diff := diffLines(before, schemaSnapshot(t, fresh)); diff != "" {
		t.Fatalf("AutoMigrate of the models changed the migrated schema:\n%s", diff)
	}
}

func TestMigrationsRunTwiceChangeNothing(t *testing.T) {
	fresh, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, fresh)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	// Even with the bookkeeping gone, every step finds its work done and changes nothing.
	if err := fresh.Exec("DELETE FROM " + database.MigrationsTable).Error; err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatalf("Migrate with the migrations table emptied: %v", err)
	}
	if diff := diffLines(before, schemaSnapshot(t, fresh)); diff != "" {
		t.Fatalf("schema changed by running the migrations again:\n%s", diff)
	}
	status, err := database.Status(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) == 0 {
		t.Fatal("no migration in the status")
	}
	for _, s := range status {
		if !s.Applied {
			t.Errorf("migration %s not recorded as applied", s.ID)
		}
	}
}

func TestDownThenUpRestoresTheSchema(t *testing.T) {
	fresh, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, fresh)

	n, err := database.MigrateDown(t.Context(), fresh, 1)
	if err != nil || n != 1 {
		t.Fatalf("down 1: rolled back %d, err %v", n, err)
	}
	status, err := database.Status(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if last := status[len(status)-1]; last.Applied {
		t.Fatalf("after down 1 the last migration %s is still applied", last.ID)
	}

	n, err = database.MigrateDown(t.Context(), fresh, 0)
	if err != nil {
		t.Fatalf("down all: %v", err)
	}
	if want := len(status) - 1; n != want {
		t.Fatalf("down all rolled back %d migrations, want %d", n, want)
	}
	if left := schemaSnapshot(t, fresh); len(left) != 0 {
		t.Fatalf("after rolling everything back the schema still has:\n%s", strings.Join(left, "\n"))
	}

	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if diff := diffLines(before, schemaSnapshot(t, fresh)); diff != "" {
		t.Fatalf("down then up changed the schema:\n%s", diff)
	}
}

func diffLines(a, b []string) string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func freshMigrated(t *testing.T) *gorm.DB {
	t.Helper()
	fresh, _ := testdb.NewDatabase(t)
	if err := database.Migrate(t.Context(), fresh); err != nil {
		t.Fatal(err)
	}
	return fresh
}
