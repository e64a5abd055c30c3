package store

import "context"

// oneVideo is the read of GET /api/videos/:id, the API's most frequent single read: the video,
// its author and the viewer's like, bookmark and follow in ONE statement (viewerColumns: three
// primary-key probes beside the two rows), as a signed-in list page does for its rows.
const oneVideo = `SELECT ` + videoColumns + viewerColumns + `
	FROM ` + videosWithAuthor + ` WHERE v.id = ? AND (v.status = 'ready' OR v.user_id = ?)`

// readOne reads video id as viewer (0: anonymous) sees it; NotFound when missing, or when it
// is not ready and not the viewer's (a video processing or failed is its owner's alone).
func (s *Videos) readOne(ctx context.Context, viewer, id int32) (VideoView, error) {
	rows, err := scanVideos(s.db.WithContext(ctx), true, false, oneVideo, append(viewerColumnArgs(viewer), id, viewer))
	if err != nil {
		return VideoView{}, translate(err)
	}
	if len(rows) == 0 {
		return VideoView{}, errVideoNotFound
	}
	var isFollowing *bool // left out for an anonymous viewer, as in the lists
	if viewer != 0 {
		isFollowing = &rows[0].following
	}
	return s.media.videoView(&rows[0], viewer, rows[0].marks, isFollowing), nil
}
