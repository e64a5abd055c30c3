package database_test

import (
	"strings"
	"testing"

	"tiktok/database"
	"tiktok/internal/testdb"
)

// prismaMigrationSQL is what `prisma migrate dev` writes for the course's schema.prisma
// (its migration.sql), kept here independent of our own 0001 migration so the test catches
// any drift between the two.
var prismaMigrationSQL = []string{
	`CREATE TABLE "users" ("id" SERIAL NOT NULL, "username" TEXT NOT NULL, "email" TEXT NOT NULL, "password" TEXT NOT NULL, "name" TEXT, "bio" TEXT, "avatar" TEXT, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" TIMESTAMP(3) NOT NULL, CONSTRAINT "users_pkey" PRIMARY KEY ("id"))`,
	`CREATE TABLE "videos" ("id" SERIAL NOT NULL, "user_id" INTEGER NOT NULL, "caption" TEXT, "video_url" TEXT NOT NULL, "thumbnail_url" TEXT, "audio_name" TEXT, "views" INTEGER NOT NULL DEFAULT 0, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" TIMESTAMP(3) NOT NULL, CONSTRAINT "videos_pkey" PRIMARY KEY ("id"))`,
	`CREATE TABLE "comments" ("id" SERIAL NOT NULL, "content" TEXT NOT NULL, "user_id" INTEGER NOT NULL, "video_id" INTEGER NOT NULL, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" TIMESTAMP(3) NOT NULL, CONSTRAINT "comments_pkey" PRIMARY KEY ("id"))`,
	`CREATE TABLE "video_likes" ("user_id" INTEGER NOT NULL, "video_id" INTEGER NOT NULL, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "video_likes_pkey" PRIMARY KEY ("user_id","video_id"))`,
	`CREATE TABLE "comment_likes" ("user_id" INTEGER NOT NULL, "comment_id" INTEGER NOT NULL, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "comment_likes_pkey" PRIMARY KEY ("user_id","comment_id"))`,
	`CREATE TABLE "follows" ("follower_id" INTEGER NOT NULL, "following_id" INTEGER NOT NULL, "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, CONSTRAINT "follows_pkey" PRIMARY KEY ("follower_id","following_id"))`,
	`CREATE UNIQUE INDEX "users_username_key" ON "users"("username")`,
	`CREATE UNIQUE INDEX "users_email_key" ON "users"("email")`,
	`ALTER TABLE "videos" ADD CONSTRAINT "videos_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "comments" ADD CONSTRAINT "comments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "comments" ADD CONSTRAINT "comments_video_id_fkey" FOREIGN KEY ("video_id") REFERENCES "videos"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "video_likes" ADD CONSTRAINT "video_likes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "video_likes" ADD CONSTRAINT "video_likes_video_id_fkey" FOREIGN KEY ("video_id") REFERENCES "videos"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "comment_likes" ADD CONSTRAINT "comment_likes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "comment_likes" ADD CONSTRAINT "comment_likes_comment_id_fkey" FOREIGN KEY ("comment_id") REFERENCES "comments"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "follows" ADD CONSTRAINT "follows_follower_id_fkey" FOREIGN KEY ("follower_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	`ALTER TABLE "follows" ADD CONSTRAINT "follows_following_id_fkey" FOREIGN KEY ("following_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`,
	// Prisma's own bookkeeping, which we leave alone.
	`CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`,
	`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ('0b1c', 'abc', '20250325171138_init', now(), 1)`,
}

// prismaRows fills the Prisma tables the way the Prisma version would: 12 users, 30 videos,
// comments, likes and follows with an uneven spread, updated_at always set by the client.
var prismaRows = []string{
	`INSERT INTO users (username, email, password, name, created_at, updated_at)
	 SELECT 'user' || i, 'user' || i || '@example.com', '$2b$10$abcdefghijklmnopqrstuv', 'User ' || i, now(), now()
	 FROM generate_series(1, 12) i`,
	`INSERT INTO videos (user_id, caption, video_url, views, updated_at)
	 SELECT 1 + (i % 5), 'Video ' || i, 'https://example.com/v' || i || '.mp4', i * 7, now() FROM generate_series(1, 30) i`,
	`INSERT INTO comments (content, user_id, video_id, updated_at)
	 SELECT 'Comment ' || i, 1 + (i % 12), 1 + (i % 7), now() FROM generate_series(1, 90) i`,
	`INSERT INTO video_likes (user_id, video_id) SELECT u, v FROM generate_series(1, 12) u, generate_series(1, 30) v WHERE (u * v) % 4 = 0`,
	`INSERT INTO comment_likes (user_id, comment_id) SELECT u, c FROM generate_series(1, 12) u, generate_series(1, 90) c WHERE (u + c) % 5 = 0`,
	`INSERT INTO follows (follower_id, following_id) SELECT a, b FROM generate_series(1, 12) a, generate_series(1, 12) b WHERE a <> b AND (a + 2 * b) % 3 = 0`,
}

var rowCountQueries = map[string]string{
	"users": "SELECT count(*) FROM users", "videos": "SELECT count(*) FROM videos",
	"comments": "SELECT count(*) FROM comments", "video_likes": "SELECT count(*) FROM video_likes",
	"comment_likes": "SELECT count(*) FROM comment_likes", "follows": "SELECT count(*) FROM follows",
	"_prisma_migrations": "SELECT count(*) FROM _prisma_migrations",
	"row checksum": `SELECT (SELECT sum(hashtext(u::text)) FROM users u) + (SELECT sum(hashtext(v::text)) FROM videos v)
		+ (SELECT sum(hashtext(c::text)) FROM comments c)`,
}

// usersSnapshot and videosSnapshot are the Prisma-made columns of every row, as one string.
const (
	usersSnapshot  = `SELECT string_agg(concat_ws('|', id, username, email, password, name, bio, avatar, created_at, updated_at), ';' ORDER BY id) FROM users`
	videosSnapshot = `SELECT string_agg(concat_ws('|', id, user_id, caption, video_url, views, created_at, updated_at), ';' ORDER BY id) FROM videos`
)

func TestUpgradeInPlaceKeepsPrismaRowsAndFillsCounters(t *testing.T) {
	prisma, _ := testdb.NewDatabase(t)
	for _, stmt := range append(prismaMigrationSQL, prismaRows...) {
		if err := prisma.Exec(stmt).Error; err != nil {
			t.Fatalf("building the Prisma database: %v\n%s", err, stmt)
		}
	}
	before := map[string]int64{}
	for name, q := range rowCountQueries {
		var n int64
		if err := prisma.Raw(q).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		before[name] = n
	}
	// Snapshot of the Prisma-made columns of every row, to compare after the upgrade.
	var usersBefore, videosBefore string
	testdb.MustScan(t, prisma, &usersBefore, usersSnapshot)
	testdb.MustScan(t, prisma, &videosBefore, videosSnapshot)
	if usersBefore == "" || videosBefore == "" {
		t.Fatal("empty snapshot of the Prisma rows")
	}

	if err := database.Migrate(t.Context(), prisma); err != nil {
		t.Fatalf("migrating the Prisma database: %v", err)
	}

	for name, q := range rowCountQueries {
		if name == "row checksum" {
			continue // the rows gained counter columns; compared column by column below
		}
		var n int64
		testdb.MustScan(t, prisma, &n, q)
		if n != before[name] {
			t.Errorf("%s: %d rows before the upgrade, %d after", name, before[name], n)
		}
	}
	var usersAfter, videosAfter string
	testdb.MustScan(t, prisma, &usersAfter, usersSnapshot)
	testdb.MustScan(t, prisma, &videosAfter, videosSnapshot)
	if usersAfter != usersBefore || videosAfter != videosBefore {
		t.Errorf("the upgrade changed existing rows")
	}
	testdb.AssertCountersExact(t, prisma)

	// The counters must be non-trivial, or the check above proves little.
	var maxFollowers, maxLikes int
	testdb.MustScan(t, prisma, &maxFollowers, `SELECT max(follower_count) FROM users`)
	testdb.MustScan(t, prisma, &maxLikes, `SELECT max(like_count) FROM videos`)
	if maxFollowers == 0 || maxLikes == 0 {
		t.Fatalf("test data too thin: max followers %d, max likes %d", maxFollowers, maxLikes)
	}

	// Migrating again changes nothing; a Prisma client inserting without our columns still works.
	snap := schemaSnapshot(t, prisma)
	if err := database.Migrate(t.Context(), prisma); err != nil {
		t.Fatal(err)
	}
	if diff := diffLines(snap, schemaSnapshot(t, prisma)); diff != "" {
		t.Fatalf("second migration changed the schema:\n%s", diff)
	}
	if err := prisma.Exec(`INSERT INTO video_likes (user_id, video_id) VALUES (1, 1) ON CONFLICT DO NOTHING`).Error; err != nil {
		t.Fatal(err)
	}
	if err := prisma.Exec(`INSERT INTO users (username, email, password, updated_at) VALUES ('prisma_client', 'p@example.com', 'x', now())`).Error; err != nil {
		t.Fatalf("an insert as the Prisma client writes it fails after the upgrade: %v", err)
	}
	testdb.AssertCountersExact(t, prisma)
}

func TestUpgradeRefusesCaseDuplicatesWithAClearMessage(t *testing.T) {
	prisma, _ := testdb.NewDatabase(t)
	for _, stmt := range append(prismaMigrationSQL,
		`INSERT INTO users (username, email, password, updated_at) VALUES ('Alice', 'alice@example.com', 'x', now()), ('alice', 'ALICE2@example.com', 'x', now())`) {
		if err := prisma.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	err := database.Migrate(t.Context(), prisma)
	if err == nil || !strings.Contains(err.Error(), "differ only in case: alice") {
		t.Fatalf("want a refusal naming the duplicate username, got %v", err)
	}
	var n int64
	testdb.MustScan(t, prisma, &n, `SELECT count(*) FROM users`)
	if n != 2 {
		t.Fatalf("a refused upgrade must keep every row, have %d users", n)
	}
	// Nothing was applied: the whole run is one transaction.
	var hasCounters bool
	testdb.MustScan(t, prisma, &hasCounters, `SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'follower_count')`)
	if hasCounters {
		t.Fatal("a refused upgrade left part of its changes behind")
	}
}
