package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
)

// Follows reads and writes who follows whom (Prisma version: the follow handlers of
// userController.js).
type Follows struct {
	db *gorm.DB
	// reads serves the lists, which may be a moment stale (NewWithReads).
	reads     *gorm.DB
	media     MediaURLs
	announcer *announcer
}

// followStatement is Follows.Set's one statement for follow (true) or unfollow: it keeps both
// users' rows (FOR KEY SHARE, in id order: a deletion of either waits, and a deleted one is
// seen), adds or removes the follow and its notification (inserted only with the follow: see
// LikeTarget.notify), and reads the target's exact follower count, plus the change the
// statement's snapshot cannot see (as Likes.Set does). With later, the new notification is
// announced by the caller after the commit.
func followStatement(follow, later bool) string {
	later = later && follow
	change := `INSERT INTO follows (follower_id, following_id) SELECT me.id, target.id FROM me, target
			ON CONFLICT DO NOTHING RETURNING 1),
		told AS (INSERT INTO notifications (user_id, actor_id, type)
			SELECT target.id, me.id, 'follow' FROM me, target WHERE target.id <> me.id AND EXISTS (SELECT 1 FROM changed)
			ON CONFLICT DO NOTHING` + announcedBy(later) + `)`
	sign := "+"
	if !follow {
		change = `DELETE FROM follows WHERE follower_id = (SELECT id FROM me) AND following_id = (SELECT id FROM target)
			RETURNING 1),
		told AS (DELETE FROM notifications WHERE actor_id = (SELECT id FROM me) AND type = 'follow' AND user_id = @target)`
		sign = "-"
	}
	return `WITH locked AS (SELECT id, token_version FROM users WHERE id IN (@viewer, @target) ORDER BY id FOR KEY SHARE),
		me AS (` + lockedCaller + `),
		target AS (SELECT id FROM locked WHERE id = @target),
		changed AS (` + change + announceLater(later) + `
	SELECT (SELECT count(*) FROM me) AS viewer_found, (SELECT count(*) FROM changed) AS changed,
		u.follower_count + up.followers ` + sign + ` (SELECT count(*) FROM changed) AS count` + announceColumn(later) + `,
		EXISTS (SELECT 1 FROM follows WHERE follower_id = @viewer AND following_id = @target) AS had
	FROM ` + usersExact + ` WHERE u.id = (SELECT id FROM target)`
}

// Set makes viewer follow target (follow true) or not, and returns target's exact follower
// count as of that change, in ONE statement (followStatement). It is a set operation:
// following twice keeps one row. The trigger on follows appends counter deltas and locks no
// user's row, so many users following one celebrity do not wait for each other. A missing
// target is NotFound (no row: it was not found or locked); when a twin request's change
// committed after the statement's snapshot the count is read again after it, as in Likes.Set.
func (s *Follows) Set(ctx context.Context, caller Caller, target int32, follow bool) (followerCount int32, err error) {
	build := func(later bool) string { return followStatement(follow, later) }
	args := map[string]any{"viewer": caller.ID, "version": caller.TokenVersion, "target": target}
	count, err := runSetStatement(ctx, s.db, s.announcer, build, follow, args,
		`SELECT u.follower_count + up.followers FROM `+usersExact+` WHERE u.id = ?`, target)
	if errs.Is(err, errs.KindNotFound) {
		return 0, errUserNotFound
	}
	return count, err
}

// Followers is a page of who follows user id, newest follow first.
func (s *Follows) Followers(ctx context.Context, viewer, id int32, req PageRequest) (Page[UserSummary], error) {
	return s.list(ctx, viewer, id, req, followsBy{own: "following_id", user: "follower_id"})
}

// Following is a page of whom user id follows, newest follow first.
func (s *Follows) Following(ctx context.Context, viewer, id int32, req PageRequest) (Page[UserSummary], error) {
	return s.list(ctx, viewer, id, req, followsBy{own: "follower_id", user: "following_id"})
}

type followsBy struct{ own, user string }

func (s *Follows) list(ctx context.Context, viewer, id int32, req PageRequest, cols followsBy) (Page[UserSummary], error) {
	if err := (&Users{db: s.reads}).Exists(ctx, id); err != nil {
		return Page[UserSummary]{}, err
	}
	return joinedUsers(ctx, s.reads, s.media, viewer, joinTable{name: "follows", own: cols.own, user: cols.user}, id, req)
}

// joinTable is a join table whose rows list users for one owner: follows (a user's followers
// or followings) and video_likes (a video's likers). Each has an index on
// (own, created_at DESC, user DESC), so a page is a keyset range scan.
type joinTable struct {
	name string // follows, video_likes
	own  string // the column equal to the owner's id
	user string // the column naming the listed user
}

// joinedUser is a listed user with the time of its join row, which orders the list.
type joinedUser struct {
	models.User
	SortAt time.Time `gorm:"column:sort_at"`
}

// joinedUsers is one page of t's users for owner, newest row first, with isFollowing for the
// viewer. A bare numeric cursor is a user id of the list.
func joinedUsers(ctx context.Context, db *gorm.DB, media MediaURLs, viewer int32, t joinTable, owner int32, req PageRequest) (Page[UserSummary], error) {
	spec := listSpec{
		keys:    keyset{first: "j.created_at", second: "j." + t.user},
		columns: "u.*",
		from:    t.name + " j JOIN users u ON u.id = j." + t.user,
		where:   "j." + t.own + " = ?", args: []any{owner},
		resolve: func(ctx context.Context, user int32) (position, bool, error) {
			var at []time.Time
			err := db.WithContext(ctx).Raw(`SELECT created_at FROM `+t.name+` WHERE `+t.own+` = ? AND `+t.user+` = ?`, owner, user).
				Scan(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: user}, true, nil
		},
	}
	page, err := fetchPage(ctx, db, spec, req, scanInto[joinedUser], func(r *joinedUser) position {
		return position{At: r.SortAt, ID: r.ID}
	})
	if err != nil {
		return Page[UserSummary]{}, translate(err)
	}
	ids := make([]int32, len(page.Items))
	for i := range page.Items {
		ids[i] = page.Items[i].ID
	}
	following, err := viewerFollows(ctx, db, viewer, ids)
	if err != nil {
		return Page[UserSummary]{}, translate(err)
	}
	out := make([]UserSummary, len(page.Items))
	for i := range page.Items {
		out[i] = media.userSummary(&page.Items[i].User, following(page.Items[i].ID))
	}
	return withItems(page, out), nil
}

// scanInto runs a query and scans its rows with GORM, by column name.
func scanInto[T any](db *gorm.DB, sql string, args []any) ([]T, error) {
	var rows []T
	err := db.Raw(sql, args...).Find(&rows).Error
	return rows, err
}

// withItems is page p with its items replaced by their views.
func withItems[T, U any](p Page[T], items []U) Page[U] {
	return Page[U]{Items: items, NextCursor: p.NextCursor, HasNextPage: p.HasNextPage, OffsetMode: p.OffsetMode,
		Total: p.Total, TotalPages: p.TotalPages, CurrentPage: p.CurrentPage}
}
