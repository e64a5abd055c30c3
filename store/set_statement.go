package store

import (
	"context"

	"gorm.io/gorm"

	"tiktok/errs"
)

// The set statements: a like (Likes.Set, also a bookmark) and a follow (Follows.Set) are each
// ONE statement with no transaction around it, built of the parts below.

// setAnswer is the row a set statement (Likes.Set, Follows.Set) answers: whether the acting
// user was found, how many rows it changed, the item's count as of that change, the
// notifications to announce after the commit ("<id>:<recipient>,...", announceLater), and
// whether the set held the row in the statement's snapshot (had).
type setAnswer struct {
	ViewerFound int64
	Changed     int64
	Count       int32
	Announce    *string
	Had         bool
}

// A notification announced by NOTIFY inside the writing transaction holds a lock of the whole
// cluster until that commit is on disk, so every notifying like in the service would commit one
// at a time (database, 202611300061). A set statement outside any transaction therefore marks
// its transaction (tiktok.announce = 'later': the trigger stays silent), returns what it
// notified, and runSetStatement has it announced in a transaction of its own that does not
// wait for the disk (announce_notifications), batched with others (announcer.go). The mark is a CTE the final SELECT reads, so it is set
// before the statement's AFTER triggers fire; set_config(..., true) ends with the transaction.

// announcedBy is what the notification's insert returns with later.
func announcedBy(later bool) string {
	if later {
		return ` RETURNING id, user_id`
	}
	return ""
}

// announceLater is the CTE that marks the statement's transaction.
func announceLater(later bool) string {
	if later {
		return `, later AS (SELECT set_config('tiktok.announce', 'later', true) AS v)`
	}
	return ""
}

// announceColumn is the announce column of setAnswer.
func announceColumn(later bool) string {
	if later {
		// The CASE reads the mark first, so it is evaluated whatever was notified.
		return `, CASE WHEN (SELECT v FROM later) = 'later' THEN (SELECT string_agg(id || ':' || user_id, ',') FROM told) END AS announce`
	}
	return `, NULL::text AS announce`
}

// runSetStatement runs the set statement build(later) that adds (set) or removes a row
// (retried on a deadlock), has its notifications announced after the commit (announcer), and
// returns the count it read. later is true outside a caller's transaction (inside one, the
// trigger announces at that transaction's commit). When it changed nothing, its count is right
// if the statement's snapshot already held the outcome (had == set: a repeated like, already
// counted); otherwise a twin request made the change and committed after that snapshot, and
// the count is read again by recount (with arg) after it, so that it shows that change. No row
// (the item is missing, or a foreign key failed: it went meanwhile) is NotFound; a missing
// acting user, errViewerGone.
func runSetStatement(ctx context.Context, db *gorm.DB, announcer *announcer, build func(later bool) string, set bool,
	args map[string]any, recount string, arg any) (int32, error) {
	sql := build(!inTransaction(db))
	var rows []setAnswer
	err := retriedStatement(ctx, db, func(db *gorm.DB) error { return db.Raw(sql, args).Find(&rows).Error })
	if err == nil && len(rows) == 1 && rows[0].Announce != nil {
		announcer.announce(*rows[0].Announce)
	}
	if err == nil && len(rows) == 1 && rows[0].ViewerFound == 1 && rows[0].Changed == 0 && rows[0].Had != set {
		var counts []int32
		err = db.WithContext(ctx).Raw(recount, arg).Find(&counts).Error
		if err == nil && len(counts) == 1 {
			rows[0].Count = counts[0]
		}
	}
	err = translate(err)
	switch {
	case err != nil:
		return 0, err
	case len(rows) == 0:
		return 0, errs.NotFound("not found")
	case rows[0].ViewerFound == 0:
		return 0, errViewerGone
	}
	return rows[0].Count, nil
}
