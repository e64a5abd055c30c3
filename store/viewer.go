package store

import (
	"context"
	"slices"

	"gorm.io/gorm"
)

// The viewer fields of a page come from here, one function each, with one IN query for the
// whole page (none for an anonymous viewer): so a list runs the same statements for a page of
// 1 as for 50.

// viewerFollows loads which of users the viewer follows. The returned function gives the
// isFollowing value of a user: nil for an anonymous viewer (the field is then left out).
func viewerFollows(ctx context.Context, db *gorm.DB, viewer int32, users []int32) (func(int32) *bool, error) {
	if viewer == 0 {
		return func(int32) *bool { return nil }, nil
	}
	followed, err := idSet(ctx, db, `SELECT following_id FROM follows WHERE follower_id = ? AND following_id IN ?`, viewer, users)
	if err != nil {
		return nil, err
	}
	return func(id int32) *bool {
		v := followed[id]
		return &v
	}, nil
}

// videoMarks are the viewer's own marks on a video: isLiked and isBookmarked.
type videoMarks struct{ liked, bookmarked bool }

// viewerVideoMarks loads which of videos the viewer liked and which they bookmarked, in one
// query (two primary-key ranges), so the bookmarks cost a page no statement of its own.
func viewerVideoMarks(ctx context.Context, db *gorm.DB, viewer int32, videos []int32) (map[int32]videoMarks, error) {
	marks := map[int32]videoMarks{}
	if viewer == 0 || len(videos) == 0 {
		return marks, nil
	}
	var rows []struct {
		VideoID int32 `gorm:"column:video_id"`
		Kind    string
	}
	err := db.WithContext(ctx).Raw(`SELECT video_id, 'like' AS kind FROM video_likes WHERE user_id = ? AND video_id IN ?
		UNION ALL SELECT video_id, 'bookmark' FROM video_bookmarks WHERE user_id = ? AND video_id IN ?`,
		viewer, videos, viewer, videos).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		m := marks[r.VideoID]
		if r.Kind == "like" {
			m.liked = true
		} else {
			m.bookmarked = true
		}
		marks[r.VideoID] = m
	}
	return marks, nil
}

// viewerLikedComments loads which of comments the viewer liked.
func viewerLikedComments(ctx context.Context, db *gorm.DB, viewer int32, comments []int32) (map[int32]bool, error) {
	if viewer == 0 {
		return nil, nil
	}
	return idSet(ctx, db, `SELECT comment_id FROM comment_likes WHERE user_id = ? AND comment_id IN ?`, viewer, comments)
}

// idSet runs a query for the viewer over ids and returns the ids it selects as a set.
func idSet(ctx context.Context, db *gorm.DB, query string, viewer int32, ids []int32) (map[int32]bool, error) {
	set := map[int32]bool{}
	if len(ids) == 0 {
		return set, nil
	}
	var found []int32
	if err := db.WithContext(ctx).Raw(query, viewer, ids).Find(&found).Error; err != nil {
		return nil, err
	}
	for _, id := range found {
		set[id] = true
	}
	return set, nil
}

// distinct returns the distinct values of ids, in their first order (a page's authors).
func distinct(ids []int32) []int32 {
	var out []int32
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
