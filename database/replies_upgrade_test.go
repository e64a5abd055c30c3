package database_test

import (
	"testing"

	"tiktok/database"
	"tiktok/internal/testdb"
)

func TestUpgradeOfAPrismaDatabaseMakesEveryCommentTopLevel(t *testing.T) {
	prisma, _ := testdb.NewDatabase(t)
	for _, stmt := range append(prismaMigrationSQL, prismaRows...) {
		if err := prisma.Exec(stmt).Error; err != nil {
			t.Fatalf("building the Prisma database: %v\n%s", err, stmt)
		}
	}
	if err := database.Migrate(t.Context(), prisma); err != nil {
		t.Fatalf("migrating the Prisma database: %v", err)
	}
	var comments, topLevel, withReplies int64
	testdb.MustScan(t, prisma, &comments, `SELECT count(*) FROM comments`)
	testdb.MustScan(t, prisma, &topLevel, `SELECT count(*) FROM comments WHERE parent_id IS NULL AND reply_to_user_id IS NULL`)
	testdb.MustScan(t, prisma, &withReplies, `SELECT count(*) FROM comments WHERE reply_count <> 0`)
	if comments != 90 || topLevel != comments || withReplies != 0 {
		t.Fatalf("after the upgrade: %d comments, %d top-level, %d with replies; want 90, 90, 0", comments, topLevel, withReplies)
	}

	// A Prisma client keeps writing comments as it always did (top-level); replies written by
	// anyone keep reply_count exact, and deleting a comment takes its replies along.
	testdb.MustRun(t, prisma, `INSERT INTO comments (content, user_id, video_id, updated_at) VALUES ('from prisma', 1, 1, now())`)
	testdb.MustRun(t, prisma, `INSERT INTO comments (content, user_id, video_id, parent_id, reply_to_user_id)
		SELECT 'reply ' || i, 1 + i % 12, c.video_id, c.id, c.user_id FROM comments c, generate_series(1, 3) i WHERE c.id IN (1, 2, 3)`)
	testdb.AssertCountersExact(t, prisma)
	var replies int32
	testdb.MustScan(t, prisma, &replies, `SELECT reply_count FROM comment_counts WHERE id = 2`)
	if replies != 3 {
		t.Fatalf("comment 2 has reply_count %d, want 3", replies)
	}
	// A direct write of the counter is undone; recount_counters() agrees with the triggers.
	testdb.MustRun(t, prisma, `UPDATE comments SET reply_count = 99 WHERE id = 2`)
	testdb.MustRun(t, prisma, `SELECT recount_counters()`)
	testdb.AssertCountersExact(t, prisma)
	var videoOfTwo int32
	testdb.MustScan(t, prisma, &videoOfTwo, `SELECT video_id FROM comments WHERE id = 2`)
	testdb.MustRun(t, prisma, `DELETE FROM comments WHERE id = 2`)
	var left int64
	testdb.MustScan(t, prisma, &left, `SELECT count(*) FROM comments WHERE parent_id = 2`)
	if left != 0 {
		t.Fatalf("%d replies outlived their comment", left)
	}
	testdb.AssertCountersExact(t, prisma)

	// Rolling the replies migration back (and every later one) leaves the Prisma tables as
	// they were.
	statuses, err := database.Status(t.Context(), prisma)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, m := range statuses {
		if m.Applied && m.ID >= "202611300020_comment_replies" {
			steps++
		}
	}
	if _, err := database.MigrateDown(t.Context(), prisma, steps); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	var hasParent bool
	testdb.MustScan(t, prisma, &hasParent, `SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'comments' AND column_name = 'parent_id')`)
	if hasParent {
		t.Fatal("rollback left comments.parent_id")
	}
	// recount_counters() is 202611250002's again (it would fail on the dropped column).
	testdb.MustRun(t, prisma, `SELECT recount_counters()`)
}
