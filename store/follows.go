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
	reads *gorm.DB
	media MediaURLs
}

// Set makes viewer follow target (follow true) or not, and returns target's follower count
// as of that change. It is a set operation: following twice keeps one row. The trigger on
// follows moves the counters; this only reads them, in the same transaction, so the count
// includes this very change.
func (s *Follows) Set(ctx context.Context, viewer, target int32, follow bool) (followerCount int32, err error) {
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		// Both users, in id order (the lock order, locks.go; count_follows locks them the
		// same way): the trigger moves both users' counters. Finding the target here answers
		// 404 for a missing user before any write.
		found, err := lockUsers(tx, viewer, userLocks{}.need(viewer, noKeyUpdate).need(target, noKeyUpdate))
		if err != nil {
			return err
		}
		if !found[target] {
			return errUserNotFound
		}
		// The followed user's notification lives exactly as long as the follow row.
		if follow {
			if err := tx.Exec(`INSERT INTO follows (follower_id, following_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, viewer, target).Error; err != nil {
				return err
			}
			if err := notifyOnce(tx, target, viewer, models.NotifyFollow, nil, nil); err != nil {
				return err
			}
		} else {
			if err := tx.Exec(`DELETE FROM follows WHERE follower_id = ? AND following_id = ?`, viewer, target).Error; err != nil {
				return err
			}
			if err := tx.Exec(`DELETE FROM notifications WHERE actor_id = ? AND type = 'follow' AND user_id = ?`, viewer, target).Error; err != nil {
				return err
			}
		}
		return tx.Raw(`SELECT follower_count FROM users WHERE id = ?`, target).Scan(&followerCount).Error
	})
	err = translate(err)
	if errs.Is(err, errs.KindNotFound) { // also a foreign key failing: the user went meanwhile
		return 0, errUserNotFound
	}
	return followerCount, err
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
	err := db.Raw(sql, args...).Scan(&rows).Error
	return rows, err
}

// withItems is page p with its items replaced by their views.
func withItems[T, U any](p Page[T], items []U) Page[U] {
	return Page[U]{Items: items, NextCursor: p.NextCursor, HasNextPage: p.HasNextPage, OffsetMode: p.OffsetMode,
		Total: p.Total, TotalPages: p.TotalPages, CurrentPage: p.CurrentPage}
}
