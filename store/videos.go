package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/models"
)

// Videos reads and writes videos and the feeds (Prisma version: the prisma.video calls of
// videoController.js).
type Videos struct {
	db *gorm.DB
	// reads serves the feeds and lists, which may be a moment stale (NewWithReads).
	reads *gorm.DB
	media MediaURLs
}

var errVideoNotFound = errs.NotFound("Video not found")

// videoColumns are the columns of a video row joined with its author (alias u) and its
// pending counter deltas (alias vp, videoPending: the counts are exact). Every video
// query selects exactly these, in this order, for scanVideos to scan.
const videoColumns = `v.id, v.user_id, v.caption, v.video_url, v.thumbnail_url, v.audio_name, v.views,
	v.created_at, v.updated_at, v.like_count + vp.likes AS like_count, v.comment_count + vp.comments AS comment_count,
	v.bookmark_count + vp.bookmarks AS bookmark_count, v.trending_score,
	v.status, v.status_reason, v.duration, v.width, v.height,
	u.username AS author_username, u.name AS author_name, u.avatar AS author_avatar`

const videosWithAuthor = "videos v JOIN users u ON u.id = v.user_id" + videoPending

// readyOnly is the condition of every public list (API.md, "Media processing"): a video still
// processing, or failed, is seen by its owner only. Almost every row is ready, so the lists
// keep walking their keyset indexes and filter the rare other row (migrations_media.go).
const readyOnly = "v.status = 'ready'"

// videoRow is a video with its author's summary columns and the time it was listed by (the
// like's time in the liked list, the video's elsewhere), and, when its statement selected
// viewerColumns, the viewer's marks on it.
type videoRow struct {
	models.Video
	TrendingScore  float64
	AuthorUsername string
	AuthorName     *string
	AuthorAvatar   *string
	SortAt         time.Time
	marks          videoMarks
	following      bool
}

// viewerColumns are the viewer fields of a video row (alias v) as columns of the row's own
// statement: three primary-key probes per returned row, where a query per field would cost a
// round trip each. Their three arguments are the viewer's id (viewerColumnArgs).
const viewerColumns = `,
	EXISTS (SELECT 1 FROM video_likes ml WHERE ml.user_id = ? AND ml.video_id = v.id) AS is_liked,
	EXISTS (SELECT 1 FROM video_bookmarks mb WHERE mb.user_id = ? AND mb.video_id = v.id) AS is_bookmarked,
	EXISTS (SELECT 1 FROM follows mf WHERE mf.follower_id = ? AND mf.following_id = v.user_id) AS is_following`

func viewerColumnArgs(viewer int32) []any { return []any{viewer, viewer, viewer} }

// scanVideos runs a query selecting videoColumns (then viewerColumns when withMarks, then
// sort_at when withSortAt) and scans the rows by position. It is the hot path of every feed,
// and GORM's reflective struct scan was about a third of the feed's CPU in a profile.
func scanVideos(db *gorm.DB, withMarks, withSortAt bool, sql string, args []any) ([]videoRow, error) {
	rs, err := db.Raw(sql, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []videoRow
	for rs.Next() {
		var r videoRow
		dst := []any{&r.ID, &r.UserID, &r.Caption, &r.VideoURL, &r.ThumbnailURL, &r.AudioName, &r.Views,
			&r.CreatedAt, &r.UpdatedAt, &r.LikeCount, &r.CommentCount, &r.BookmarkCount, &r.TrendingScore,
			&r.Status, &r.StatusReason, &r.Duration, &r.Width, &r.Height,
			&r.AuthorUsername, &r.AuthorName, &r.AuthorAvatar}
		if withMarks {
			dst = append(dst, &r.marks.liked, &r.marks.bookmarked, &r.following)
		}
		if withSortAt {
			dst = append(dst, &r.SortAt)
		}
		if err := rs.Scan(dst...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// videoViews turns rows into Video shapes with the viewer fields. Rows scanned with their
// marks (withMarks) need nothing more; otherwise a signed-in viewer's fields take two more
// queries for the whole page (the viewer's likes and bookmarks among these videos, the
// viewer's follows among their authors), none for an anonymous caller.
func videoViews(ctx context.Context, db *gorm.DB, media MediaURLs, viewer int32, rows []videoRow, withMarks bool) ([]VideoView, error) {
	out := make([]VideoView, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	if withMarks {
		for i := range rows {
			out[i] = media.videoView(&rows[i], viewer, rows[i].marks, &rows[i].following)
		}
		return out, nil
	}
	videoIDs := make([]int32, len(rows))
	authorIDs := make([]int32, len(rows))
	for i := range rows {
		videoIDs[i], authorIDs[i] = rows[i].ID, rows[i].UserID
	}
	marks, err := viewerVideoMarks(ctx, db, viewer, videoIDs)
	if err != nil {
		return nil, err
	}
	following, err := viewerFollows(ctx, db, viewer, distinct(authorIDs))
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out[i] = media.videoView(&rows[i], viewer, marks[rows[i].ID], following(rows[i].UserID))
	}
	return out, nil
}

// videoPage runs a video list on db (the store's reads, for the lists that may be a moment
// stale) and adds the viewer fields. A signed-in viewer's cursor page selects them as columns
// of the page's statement (viewerColumns): one statement for the page whoever asks. An
// offset page keeps them out of it, as PostgreSQL would compute the columns of every row the
// OFFSET skips too, and reads them for the page's rows after (videoViews).
func videoPage(ctx context.Context, db *gorm.DB, media MediaURLs, viewer int32, spec listSpec, req PageRequest) (Page[VideoView], error) {
	withMarks := viewer != 0 && req.Page == 0
	if withMarks {
		spec.columns += viewerColumns
		spec.columnArgs = append(append([]any{}, spec.columnArgs...), viewerColumnArgs(viewer)...)
	}
	scan := func(db *gorm.DB, sql string, args []any) ([]videoRow, error) {
		return scanVideos(db, withMarks, !spec.keys.byScore, sql, args)
	}
	page, err := fetchPage(ctx, db, spec, req, scan, func(r *videoRow) position {
		return position{At: r.SortAt, Score: r.TrendingScore, ID: r.ID}
	})
	if err != nil {
		return Page[VideoView]{}, translate(err)
	}
	views, err := videoViews(ctx, db, media, viewer, page.Items, withMarks)
	if err != nil {
		return Page[VideoView]{}, translate(err)
	}
	return withItems(page, views), nil
}

// byCreation is the order of most video lists: newest first.
var byCreation = keyset{first: "v.created_at", second: "v.id"}

// Latest is the newest videos first (GET /api/videos, the default sort).
func (s *Videos) Latest(ctx context.Context, viewer int32, req PageRequest) (Page[VideoView], error) {
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: byCreation, columns: videoColumns, from: videosWithAuthor,
		where: readyOnly, resolve: resolveByCreation(s.reads, readyOnly)}, req)
}

// Trending is the For You feed (sort=trending). trending_score is a generated column that does
// not depend on the clock (database/migrations_trending.go), so (trending_score, id) is a
// total order that holds still between two pages: a keyset cursor over it is stable.
func (s *Videos) Trending(ctx context.Context, viewer int32, req PageRequest) (Page[VideoView], error) {
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: keyset{first: "v.trending_score", second: "v.id", byScore: true},
		columns: videoColumns, from: videosWithAuthor, where: readyOnly,
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			var rows []struct {
				ID            int32   `gorm:"column:id"`
				TrendingScore float64 `gorm:"column:trending_score"`
			}
			err := s.reads.WithContext(ctx).Raw(`SELECT id, trending_score FROM videos v WHERE id = ? AND `+readyOnly, id).Find(&rows).Error
			if err != nil || len(rows) == 0 {
				return position{}, false, err
			}
			return position{Score: rows[0].TrendingScore, ID: id}, true, nil
		}}, req)
}

// soundMatch is the condition of a sound's videos: the same sound in any case, the expression
// videos_audio_name_lower_created_at_id_idx leads with.
const soundMatch = "lower(v.audio_name) = lower(?) AND " + readyOnly

// BySound is the videos using sound (any case), newest first (GET /api/videos?sound=): one
// range of videos_audio_name_lower_created_at_id_idx at any depth.
func (s *Videos) BySound(ctx context.Context, viewer int32, sound string, req PageRequest) (Page[VideoView], error) {
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: byCreation, columns: videoColumns, from: videosWithAuthor,
		countFrom: "videos v", where: soundMatch, args: []any{sound},
		resolve: resolveByCreation(s.reads, soundMatch, sound)}, req)
}

// ByUser is user id's videos, newest first (GET /api/users/:id/videos); NotFound for a
// missing user.
func (s *Videos) ByUser(ctx context.Context, viewer, id int32, req PageRequest) (Page[VideoView], error) {
	if err := (&Users{db: s.reads}).Exists(ctx, id); err != nil {
		return Page[VideoView]{}, err
	}
	// The owner sees every video of theirs with its status; anyone else the ready ones.
	where := "v.user_id = ?"
	if viewer != id {
		where += " AND " + readyOnly
	}
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: byCreation, columns: videoColumns, from: videosWithAuthor,
		where: where, args: []any{id}, resolve: resolveByCreation(s.reads, where, id)}, req)
}

// LikedBy is the videos user id liked, newest like first (GET /api/users/:id/liked). The
// keyset is the like's (created_at, video_id), served by video_likes_user_id_created_at_idx.
func (s *Videos) LikedBy(ctx context.Context, viewer, id int32, req PageRequest) (Page[VideoView], error) {
	if err := (&Users{db: s.reads}).Exists(ctx, id); err != nil {
		return Page[VideoView]{}, err
	}
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: keyset{first: "l.created_at", second: "l.video_id"},
		columns: videoColumns,
		from:    "video_likes l JOIN videos v ON v.id = l.video_id JOIN users u ON u.id = v.user_id" + videoPending,
		where:   "l.user_id = ? AND " + readyOnly, args: []any{id},
		resolve: func(ctx context.Context, videoID int32) (position, bool, error) {
			var at []time.Time
			err := s.reads.WithContext(ctx).Raw(`SELECT created_at FROM video_likes WHERE user_id = ? AND video_id = ?`, id, videoID).
				Scan(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: videoID}, true, nil
		}}, req)
}

// Following is the videos of the users viewer follows, newest first (GET
// /api/videos/following). It is read-time fan-in, a join with follows (never an IN list of
// every followed id): for each followed user, a LATERAL subquery takes at most limit+1 of
// their videos after the cursor from videos_user_id_created_at_id_idx, and the page is the
// newest limit+1 of those. The work is (followed users) x (page size) index reads at any
// depth; a plain join lets the planner walk the global time index instead, which for someone
// who follows a few quiet accounts means scanning most of the table to fill one page.
func (s *Videos) Following(ctx context.Context, viewer int32, req PageRequest) (Page[VideoView], error) {
	req.Page = 0 // cursor pages only (API.md)
	return videoPage(ctx, s.reads, s.media, viewer, listSpec{keys: byCreation, columns: videoColumns,
		resolve: resolveByCreation(s.reads, "v.user_id IN (SELECT following_id FROM follows WHERE follower_id = ?) AND "+readyOnly, viewer),
		statement: func(columns, keyset string, args []any, limit int) (string, []any) {
			if keyset != "" {
				keyset = " AND " + keyset
			}
			// The page is chosen first; its authors and pending counter deltas are joined to
			// its rows only, not to every followed author's candidates.
			return `SELECT ` + columns + `, v.created_at AS sort_at
				FROM (SELECT v.* FROM follows f
					CROSS JOIN LATERAL (
						SELECT * FROM videos v WHERE v.user_id = f.following_id AND ` + readyOnly + keyset + `
						ORDER BY v.created_at DESC, v.id DESC LIMIT ` + planLimit(limit) + `) v
					WHERE f.follower_id = ?
					ORDER BY v.created_at DESC, v.id DESC LIMIT ` + planLimit(limit) + `) v
				JOIN users u ON u.id = v.user_id` + videoPending + `
				ORDER BY v.created_at DESC, v.id DESC`, append(args, viewer)
		}}, req)
}

// resolveByCreation finds the position of a video named by a bare numeric cursor, for a list
// by creation whose videos are those meeting cond (on videos v; "" for every video): a video
// outside the list is not found. It reads on db, the list's own.
func resolveByCreation(db *gorm.DB, cond string, args ...any) func(ctx context.Context, id int32) (position, bool, error) {
	query := `SELECT v.created_at FROM videos v WHERE v.id = ?`
	if cond != "" {
		query += " AND " + cond
	}
	return func(ctx context.Context, id int32) (position, bool, error) {
		var at []time.Time
		err := db.WithContext(ctx).Raw(query, append([]any{id}, args...)...).Find(&at).Error
		if err != nil || len(at) == 0 {
			return position{}, false, err
		}
		return position{At: at[0], ID: id}, true, nil
	}
}

// Get reads one video as viewer sees it; NotFound when missing. Reading writes nothing: views
// are counted off the request path (package viewcount, AddViews). It is one statement, the
// viewer fields included (readOne).
func (s *Videos) Get(ctx context.Context, viewer, id int32) (VideoView, error) {
	return s.readOne(ctx, viewer, id)
}

// Exists answers NotFound unless video id exists.
func (s *Videos) Exists(ctx context.Context, id int32) error {
	return exists(ctx, s.db, `SELECT id FROM videos WHERE id = ?`, id, errVideoNotFound)
}

// Create inserts v for its author (ID and timestamps are filled in), with the hashtags of its
// caption and the notifications of its mentions, and reads it back as the author sees it, in one transaction: the answer is the video as committed, even when the
// author's account deletion removes it a moment later. The author's row is locked first (the
// lock order, locks.go; FOR KEY SHARE: the count_videos trigger only appends a counter delta):
// an author deleted meanwhile is errViewerGone, not a failed foreign key.
func (s *Videos) Create(ctx context.Context, v *models.Video) (VideoView, error) {
	var view VideoView
	err := transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, v.UserID, userLocks{}.need(v.UserID, keyShare)); err != nil {
			return err
		}
		v.ID = 0 // a retried attempt inserts afresh
		if err := tx.Omit("Hashtags").Create(v).Error; err != nil {
			return err
		}
		if err := syncVideoTags(tx, v.ID, v.Caption, true); err != nil {
			return err
		}
		if err := syncMentions(tx, v.UserID, v.ID, nil, v.Caption, nil, false); err != nil {
			return err
		}
		var err error
		view, err = (&Videos{db: tx, media: s.media}).Get(ctx, v.UserID, v.ID)
		return err
	})
	return view, translate(err)
}

// VideoUpdate is what an owner may change in a video.
type VideoUpdate struct {
	Caption, AudioName TextChange
}

// Update applies u to video id if viewer owns it: Forbidden otherwise, NotFound when missing.
// A new caption brings its hashtags and its mentions in the same transaction.
func (s *Videos) Update(ctx context.Context, viewer, id int32, u VideoUpdate) error {
	updates := map[string]any{}
	if u.Caption.Set {
		updates["caption"] = u.Caption.Value
	}
	if u.AudioName.Set {
		updates["audio_name"] = u.AudioName.Value
	}
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, viewer, userLocks{}.need(viewer, keyShare)); err != nil {
			return err
		}
		video, err := lockVideo(tx, id)
		if err != nil {
			return err
		}
		if video.UserID != viewer {
			return errs.Forbidden("You can only edit your own videos")
		}
		if len(updates) == 0 {
			return nil
		}
		updates["updated_at"] = time.Now().UTC()
		if err := tx.Model(&models.Video{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		if !u.Caption.Set {
			return nil
		}
		if err := syncVideoTags(tx, id, u.Caption.Value, false); err != nil {
			return err
		}
		// Mentions follow the edit: the newly mentioned are told, the no longer mentioned lose
		// their notification, the still mentioned keep theirs as it was.
		return syncMentions(tx, viewer, id, nil, u.Caption.Value, nil, true)
	}))
}

// Delete removes video id if viewer owns it (Forbidden otherwise). Likes, comments and its
// hashtag rows go by cascade and the triggers settle the author's and the tags' counters. It returns the video's stored files
// (URLs and storage paths), for the caller to delete after the commit, so a rolled-back delete never loses one.
// The viewer's row is locked before the video's (the lock order, locks.go); count_videos
// appends the author's counter delta after the video row is gone.
func (s *Videos) Delete(ctx context.Context, viewer, id int32) (files []StoredFile, err error) {
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := lockUsers(tx, viewer, userLocks{}.need(viewer, keyShare)); err != nil {
			return err
		}
		video, err := lockVideo(tx, id)
		if err != nil {
			return err
		}
		if video.UserID != viewer {
			return errs.Forbidden("You can only delete your own videos")
		}
		files = []StoredFile{{URL: video.VideoURL, Path: video.VideoStoragePath}}
		if video.ThumbnailURL != nil {
			files = append(files, StoredFile{URL: *video.ThumbnailURL, Path: video.ThumbnailStoragePath})
		}
		return tx.Exec(`DELETE FROM videos WHERE id = ?`, id).Error
	})
	if err != nil {
		return nil, translate(err)
	}
	return files, nil
}

// lockVideo locks the video row and returns its owner and files; NotFound when missing.
func lockVideo(tx *gorm.DB, id int32) (models.Video, error) {
	var rows []models.Video
	if err := tx.Raw(`SELECT id, user_id, video_url, thumbnail_url, video_storage_path, thumbnail_storage_path
		FROM videos WHERE id = ? FOR UPDATE`, id).
		Scan(&rows).Error; err != nil {
		return models.Video{}, err
	}
	if len(rows) == 0 {
		return models.Video{}, errVideoNotFound
	}
	return rows[0], nil
}
