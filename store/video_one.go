package store

import "context"

// oneVideo is the read of GET /api/videos/:id, the API's most frequent single read: the video,
// its author and the viewer's like, bookmark and follow in ONE statement (three primary-key
// probes beside the two rows), where a list page takes one statement per viewer field for
// the whole page (videoViews). One round trip instead of three is most of the read's cost.
const oneVideo = `SELECT ` + videoColumns + `,
	EXISTS (SELECT 1 FROM video_likes l WHERE l.user_id = @viewer AND l.video_id = v.id),
	EXISTS (SELECT 1 FROM video_bookmarks b WHERE b.user_id = @viewer AND b.video_id = v.id),
	EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @viewer AND f.following_id = v.user_id)
	FROM ` + videosWithAuthor + ` WHERE v.id = @id AND (v.status = 'ready' OR v.user_id = @viewer)`

// readOne reads video id as viewer (0: anonymous) sees it; NotFound when missing, or when it
// is not ready and not the viewer's (a video processing or failed is its owner's alone).
func (s *Videos) readOne(ctx context.Context, viewer, id int32) (VideoView, error) {
	rs, err := s.db.WithContext(ctx).Raw(oneVideo, map[string]any{"viewer": viewer, "id": id}).Rows()
	if err != nil {
		return VideoView{}, translate(err)
	}
	defer rs.Close()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return VideoView{}, translate(err)
		}
		return VideoView{}, errVideoNotFound
	}
	var r videoRow
	var marks videoMarks
	var following bool
	if err := rs.Scan(&r.ID, &r.UserID, &r.Caption, &r.VideoURL, &r.ThumbnailURL, &r.AudioName, &r.Views,
		&r.CreatedAt, &r.UpdatedAt, &r.LikeCount, &r.CommentCount, &r.BookmarkCount, &r.TrendingScore,
		&r.Status, &r.StatusReason, &r.Duration, &r.Width, &r.Height,
		&r.AuthorUsername, &r.AuthorName, &r.AuthorAvatar,
		&marks.liked, &marks.bookmarked, &following); err != nil {
		return VideoView{}, translate(err)
	}
	var isFollowing *bool // left out for an anonymous viewer, as in the lists
	if viewer != 0 {
		isFollowing = &following
	}
	return s.media.videoView(&r, viewer, marks, isFollowing), translate(rs.Err())
}
