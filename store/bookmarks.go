package store

import (
	"context"
	"time"
)

// VideoBookmarks is the bookmark of a video, a set like a like (Likes.Set): bookmarking twice
// keeps one row, the trigger on video_bookmarks appends a delta of videos.bookmark_count, and a
// missing video is NotFound (the insert fails its foreign key, or the count finds no row). A
// bookmark notifies nobody.
var VideoBookmarks = LikeTarget{
	table: "video_bookmarks", column: "video_id",
	from: "videos v" + videoPending, key: "v.id", count: "v.bookmark_count + vp.bookmarks",
	notFound: errVideoNotFound}

// BookmarkedBy is the videos viewer bookmarked, newest bookmark first (GET
// /api/users/me/bookmarks): a keyset over the bookmark's (created_at, video_id), one range of
// video_bookmarks_user_id_created_at_idx at any depth. It reads on the primary, so a bookmark
// just made is on the list. Only the viewer's own list exists: no id is taken.
func (s *Videos) BookmarkedBy(ctx context.Context, viewer int32, req PageRequest) (Page[VideoView], error) {
	return videoPage(ctx, s.db, s.media, viewer, listSpec{keys: keyset{first: "b.created_at", second: "b.video_id"},
		columns: videoColumns,
		from:    "video_bookmarks b JOIN videos v ON v.id = b.video_id JOIN users u ON u.id = v.user_id" + videoPending,
		where:   "b.user_id = ?", args: []any{viewer},
		countFrom: "video_bookmarks b",
		resolve: func(ctx context.Context, videoID int32) (position, bool, error) {
			var at []time.Time
			err := s.db.WithContext(ctx).Raw(`SELECT created_at FROM video_bookmarks WHERE user_id = ? AND video_id = ?`, viewer, videoID).
				Scan(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: videoID}, true, nil
		}}, req)
}
