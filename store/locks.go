package store

import (
	"maps"
	"slices"

	"gorm.io/gorm"

	"tiktok/errs"
)

// The lock order. Every write of the store takes its row locks in this one order:
//
//  1. users, in id order: the acting user, and every user whose counters the write's
//     triggers will move (the followed user, the author of a liked video, the people a
//     deleted user followed...), each at the strength the write needs (rowLock);
//  2. then videos, in id order;
//  3. then hashtags, in id order and all of a write's tags in one statement: a caption edit
//     locks the tags it loses and gains together before changing either (syncVideoTags), a
//     new video's tags are locked by the counting trigger of its one INSERT, a deleted
//     video's by the trigger of its cascade (each statement locks its tags sorted by id);
//     nothing that holds a tag waits for a user, a video or another tag after it;
//  4. then comments;
//  5. then refresh tokens (auth.Service: the user row, then the token).
//
// A write that waits for a lock then holds only locks that come before it, so no two writes
// can each hold what the other waits for. Without the order an account deletion deadlocked
// with its owner's own writes and with writes about it: the delete held the user row and its
// cascade wanted a video (or another user's row, for the counters) that a like held while the
// like's trigger wanted the author's row. PostgreSQL breaks a deadlock only after
// deadlock_timeout (1 s) by failing one side, and in a storm Transact's retries ran out (503).
//
// The counter triggers (database, 202611300060) lock no counted row: they append counter
// deltas, and the folder (Counters.Fold) takes the counted rows in this same order (users,
// videos, comments, each in id order) with SKIP LOCKED, so it never waits for a write and a
// write never waits for it longer than one fold. So a like takes the liker's and the author's
// rows FOR KEY SHARE (the author's is what the notification's foreign key locks: taken first, in
// id order, before the like's own foreign key locks the video), a follow both users' rows, a
// comment its author's, the video owner's and the answered author's: key-share locks do not
// conflict with each other, so concurrent likes of one video or one author, comments on one
// video and follows of one user do not wait for each other. Writers outside the API (psql, a
// Prisma client) get the same triggers.
//
// The acting user's lock is also how a write learns that its author was deleted while it ran:
// the row is gone, and the write answers errViewerGone (401 token_revoked, as the next request
// with that token would), where the insert's foreign key used to fail or deadlock with the
// delete's cascade. Holding it (even FOR KEY SHARE) makes a concurrent deletion of the user
// wait until the write commits, and its cascade then removes what the write added.

// rowLock is the strength of a row lock, weakest first.
type rowLock int

const (
	// keyShare keeps the row from being deleted (FOR KEY SHARE, what a foreign key check
	// takes); other writes to it go on.
	keyShare rowLock = iota + 1
	// noKeyUpdate is for a row whose columns (counters, token version) will change (FOR NO KEY
	// UPDATE, what an UPDATE takes); foreign key checks go on.
	noKeyUpdate
	// forUpdate is for a row that will be deleted (FOR UPDATE, what a DELETE takes).
	forUpdate
)

func (l rowLock) clause() string {
	switch l {
	case forUpdate:
		return "FOR UPDATE"
	case noKeyUpdate:
		return "FOR NO KEY UPDATE"
	default:
		return "FOR KEY SHARE"
	}
}

// userLocks are the user rows a write locks, with the strength each needs.
type userLocks map[int32]rowLock

// need asks for user id at strength l at least (a user can play two parts: the liker of their
// own video is also its author).
func (u userLocks) need(id int32, l rowLock) userLocks {
	u[id] = max(u[id], l)
	return u
}

// errViewerGone answers a write whose acting user was deleted while it ran.
var errViewerGone = errs.Unauthorized(errs.CodeTokenRevoked, "Access token revoked")

// Caller is the user a write acts for and the version of the access token the request came
// with. The write's own statement compares it with the user's, where it takes the user's lock
// anyway: an older version (a logout everywhere, a password change) is errViewerGone, as is a
// deleted user, so the request needs no token check before it (middleware.RequireToken).
type Caller struct {
	ID           int32
	TokenVersion int32
}

// lockedCaller is the SQL of a write's acting user among the users it locked (a CTE locked
// with columns id and token_version): found only with the token version of the request.
const lockedCaller = `SELECT id FROM locked WHERE id = @viewer AND token_version = @version`

// lockUsers takes step 1 of the lock order for a write by viewer: the rows of locks in id
// order, each at its strength (one statement per run of ids that share a strength). It
// answers errViewerGone when viewer's row is gone, and reports which of the others exist.
func lockUsers(tx *gorm.DB, viewer int32, locks userLocks) (found map[int32]bool, err error) {
	ids := slices.Sorted(maps.Keys(locks))
	found = make(map[int32]bool, len(ids))
	for start := 0; start < len(ids); {
		end := start + 1
		for end < len(ids) && locks[ids[end]] == locks[ids[start]] {
			end++
		}
		var got []int32
		// The rows are locked as the sort emits them, so in id order.
		if err := tx.Raw(`SELECT id FROM users WHERE id IN ? ORDER BY id `+locks[ids[start]].clause(), ids[start:end]).
			Scan(&got).Error; err != nil {
			return nil, err
		}
		for _, id := range got {
			found[id] = true
		}
		start = end
	}
	if !found[viewer] {
		return nil, errViewerGone
	}
	return found, nil
}
