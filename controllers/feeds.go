package controllers

import (
	"encoding/base64"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/middleware"
	"tiktok/models"
)

// VideoCount is the Prisma-style _count object of a video.
type VideoCount struct {
	Likes    int32 `json:"likes"`
	Comments int32 `json:"comments"`
}

// LikeRef is an item of a video's "likes" array: only ever the viewer's own like, which is
// how the course frontend sets its heart.
type LikeRef struct {
	UserID int32 `json:"userId"`
}

// VideoView is the Video shape of API.md.
type VideoView struct {
	ID           int32       `json:"id"`
	UserID       int32       `json:"userId"`
	Caption      *string     `json:"caption"`
	VideoURL     string      `json:"videoUrl"`
	ThumbnailURL *string     `json:"thumbnailUrl"`
	AudioName    *string     `json:"audioName"`
	Views        int32       `json:"views"`
	CreatedAt    Timestamp   `json:"createdAt"`
	UpdatedAt    Timestamp   `json:"updatedAt"`
	User         UserSummary `json:"user"`
	LikeCount    int32       `json:"likeCount"`
	CommentCount int32       `json:"commentCount"`
	Count        VideoCount  `json:"_count"`
	IsLiked      bool        `json:"isLiked"`
	Likes        []LikeRef   `json:"likes"`
}

// ListPagination is Pagination with the offset-mode total of the list it belongs to.
type ListPagination struct {
	Pagination
	TotalVideos   *int64 `json:"totalVideos,omitempty"`
	TotalComments *int64 `json:"totalComments,omitempty"`
}

// videoPage is the body of every video list.
type videoPage struct {
	Videos     []VideoView    `json:"videos"`
	Pagination ListPagination `json:"pagination"`
}

// videoColumns are the columns of a video row joined with its author (alias u). Every video
// query selects exactly these, in this order, for queryVideos to scan.
const videoColumns = `v.id, v.user_id, v.caption, v.video_url, v.thumbnail_url, v.audio_name, v.views,
	v.created_at, v.updated_at, v.like_count, v.comment_count, v.trending_score,
	u.username AS author_username, u.name AS author_name, u.avatar AS author_avatar`

// videoRow is a video with its author's summary columns and the time it was listed by (the
// like's time in the liked list, the video's elsewhere).
type videoRow struct {
	models.Video
	TrendingScore  float64
	AuthorUsername string
	AuthorName     *string
	AuthorAvatar   *string
	SortAt         time.Time
}

// queryVideos runs a query selecting videoColumns (then sort_at when withSortAt) and scans
// the rows by position. It is the hot path of every feed, and GORM's reflective struct scan
// was about a third of the feed's CPU in a profile.
func queryVideos(db *gorm.DB, withSortAt bool, q string, args ...any) ([]videoRow, error) {
	rs, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []videoRow
	for rs.Next() {
		var r videoRow
		dst := []any{&r.ID, &r.UserID, &r.Caption, &r.VideoURL, &r.ThumbnailURL, &r.AudioName, &r.Views,
			&r.CreatedAt, &r.UpdatedAt, &r.LikeCount, &r.CommentCount, &r.TrendingScore,
			&r.AuthorUsername, &r.AuthorName, &r.AuthorAvatar}
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

// position is a place in a list: (At, ID) for lists by time, (Score, ID) for trending.
type position struct {
	At    time.Time
	Score float64
	ID    int32
}

// videoListSpec describes one video list; listVideos does the rest (cursor or page mode, the
// page query, the viewer's likes and follows: a fixed number of statements whatever the limit).
type videoListSpec struct {
	// from is the FROM clause; it must join the author as u and name the video v.
	from string
	// where holds extra conditions with their arguments (may be empty).
	where string
	args  []any
	// keyA, keyB are the sort columns (DESC, DESC); an index must lead with them after the
	// equality conditions of where.
	keyA, keyB string
	// byScore says keyA is a trending score (a float), not a time.
	byScore bool
	// resolve turns a bare numeric cursor (an item id) into its position; ok false when the
	// item is not in this list.
	resolve func(id int32) (position, bool, error)
}

// listVideos answers a video list from spec.
func listVideos(c *gin.Context, db *gorm.DB, spec videoListSpec) error {
	limit, err := ParseLimit(c)
	if err != nil {
		return err
	}
	page, pageMode, err := ParsePage(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	tx := db.WithContext(ctx)

	where, args := spec.where, slices.Clone(spec.args)
	and := func(cond string, a ...any) {
		if where != "" {
			where += " AND "
		}
		where += cond
		args = append(args, a...)
	}
	var total int64
	if !pageMode {
		after, err := parseListCursor(c.Query("cursor"), spec)
		if err != nil {
			return err
		}
		if after != nil {
			if spec.byScore {
				and("("+spec.keyA+", "+spec.keyB+") < (?, ?)", after.Score, after.ID)
			} else {
				and("("+spec.keyA+", "+spec.keyB+") < (?, ?)", after.At.UTC(), after.ID)
			}
		}
	} else {
		q := "SELECT count(*) FROM " + spec.from
		if spec.where != "" {
			q += " WHERE " + spec.where
		}
		if err := tx.Raw(q, spec.args...).Scan(&total).Error; err != nil {
			return err
		}
	}

	q := "SELECT " + videoColumns
	if !spec.byScore {
		q += ", " + spec.keyA + " AS sort_at" // the key of a list by time, for its cursor
	}
	q += " FROM " + spec.from
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY " + spec.keyA + " DESC, " + spec.keyB + " DESC LIMIT ?"
	args = append(args, limit+1)
	if pageMode {
		q += " OFFSET ?"
		args = append(args, (page-1)*limit)
	}
	rows, err := queryVideos(tx, !spec.byScore, q, args...)
	if err != nil {
		return err
	}

	var pagination Pagination
	rows, pagination = trimVideoPage(rows, limit, spec)
	out := ListPagination{Pagination: pagination}
	if pageMode {
		pages := int((total + int64(limit) - 1) / int64(limit))
		out.TotalPages, out.CurrentPage, out.TotalVideos = &pages, &page, &total
		out.HasNextPage = page < pages
		if !out.HasNextPage {
			out.NextCursor = nil
		}
	}
	views, err := videoViews(c, db, rows)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, videoPage{Videos: views, Pagination: out})
	return nil
}

// trimVideoPage is TrimPage for both kinds of key.
func trimVideoPage(rows []videoRow, limit int, spec videoListSpec) ([]videoRow, Pagination) {
	if len(rows) <= limit {
		return rows, Pagination{}
	}
	rows = rows[:limit]
	last := rows[limit-1]
	var next string
	if spec.byScore {
		next = encodeScoreCursor(position{Score: last.TrendingScore, ID: last.ID})
	} else {
		next = EncodeCursor(Key{CreatedAt: last.SortAt, ID: last.ID})
	}
	return rows, Pagination{NextCursor: &next, HasNextPage: true}
}

// parseListCursor reads ?cursor= for spec: nil for none; a bare number is an item id,
// resolved through spec.resolve; otherwise the opaque cursor of the list's kind.
func parseListCursor(s string, spec videoListSpec) (*position, error) {
	if s == "" {
		return nil, nil
	}
	if digits.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return nil, badCursor()
		}
		p, ok, err := spec.resolve(int32(n))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, badCursor()
		}
		return &p, nil
	}
	if spec.byScore {
		p, ok := decodeScoreCursor(s)
		if !ok {
			return nil, badCursor()
		}
		return &p, nil
	}
	k, ok := DecodeCursor(s)
	if !ok {
		return nil, badCursor()
	}
	return &position{At: k.CreatedAt, ID: k.ID}, nil
}

// encodeScoreCursor makes the opaque cursor of a trending position: base64url of
// "s1:<score>:<id>". The score is printed in the shortest form that parses back to the same
// float64, so the next page starts exactly after the last video.
func encodeScoreCursor(p position) string {
	raw := "s1:" + strconv.FormatFloat(p.Score, 'g', -1, 64) + ":" + strconv.Itoa(int(p.ID))
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeScoreCursor(s string) (position, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != "s1" {
		return position{}, false
	}
	score, err1 := strconv.ParseFloat(parts[1], 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 32)
	if err1 != nil || err2 != nil || id < 1 || math.IsNaN(score) || math.IsInf(score, 0) {
		return position{}, false
	}
	return position{Score: score, ID: int32(id)}, true
}

// videoViews turns rows into Video shapes with the viewer fields, with at most two more
// queries for the whole page (the viewer's likes among these videos, the viewer's follows
// among their authors), none for an anonymous caller.
func videoViews(c *gin.Context, db *gorm.DB, rows []videoRow) ([]VideoView, error) {
	out := make([]VideoView, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	videoIDs := make([]int32, len(rows))
	var authorIDs []int32
	for i := range rows {
		videoIDs[i] = rows[i].ID
		if !slices.Contains(authorIDs, rows[i].UserID) {
			authorIDs = append(authorIDs, rows[i].UserID)
		}
	}
	viewer, known := middleware.ViewerID(c)
	liked := map[int32]bool{}
	if known {
		var ids []int32
		if err := db.WithContext(c.Request.Context()).
			Raw(`SELECT video_id FROM video_likes WHERE user_id = ? AND video_id IN ?`, viewer, videoIDs).
			Scan(&ids).Error; err != nil {
			return nil, err
		}
		for _, id := range ids {
			liked[id] = true
		}
	}
	following, err := viewerFollowsIDs(c, db, authorIDs)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out[i] = newVideoView(&rows[i], viewer, liked[rows[i].ID], following(rows[i].UserID))
	}
	return out, nil
}

func newVideoView(r *videoRow, viewer int32, liked bool, isFollowing *bool) VideoView {
	likes := []LikeRef{}
	if liked {
		likes = append(likes, LikeRef{UserID: viewer})
	}
	return VideoView{
		ID: r.ID, UserID: r.UserID, Caption: r.Caption, VideoURL: r.VideoURL,
		ThumbnailURL: r.ThumbnailURL, AudioName: r.AudioName, Views: r.Views,
		CreatedAt: Timestamp(r.CreatedAt), UpdatedAt: Timestamp(r.UpdatedAt),
		User: UserSummary{ID: r.UserID, Username: r.AuthorUsername, Name: r.AuthorName,
			Avatar: r.AuthorAvatar, IsFollowing: isFollowing},
		LikeCount: r.LikeCount, CommentCount: r.CommentCount,
		Count:   VideoCount{Likes: r.LikeCount, Comments: r.CommentCount},
		IsLiked: liked, Likes: likes,
	}
}

// --- the lists ---------------------------------------------------------------------------

const videosWithAuthor = "videos v JOIN users u ON u.id = v.user_id"

// List answers GET /api/videos: newest first (sort=latest, the default) or the For You feed
// (sort=trending), by cursor or, with ?page=, by offset.
func (v *Videos) List(c *gin.Context) error {
	switch sort := c.DefaultQuery("sort", "latest"); sort {
	case "latest", "":
		return listVideos(c, v.DB, videoListSpec{
			from: videosWithAuthor, keyA: "v.created_at", keyB: "v.id",
			resolve: v.resolveVideo(c, func(r videoPos) position { return position{At: r.CreatedAt, ID: r.ID} }),
		})
	case "trending":
		// trending_score is a generated column that does not depend on the clock (see
		// database/migrations_trending.go), so (trending_score, id) is a total order that
		// holds still between two pages: a keyset cursor over it is stable.
		return listVideos(c, v.DB, videoListSpec{
			from: videosWithAuthor, keyA: "v.trending_score", keyB: "v.id", byScore: true,
			resolve: v.resolveVideo(c, func(r videoPos) position { return position{Score: r.TrendingScore, ID: r.ID} }),
		})
	default:
		return middleware.ValidationFailed(map[string]string{"sort": "must be latest or trending"})
	}
}

// Following answers GET /api/videos/following: videos of the users the viewer follows,
// newest first. It is read-time fan-in, a join with follows (never an IN list of every
// followed id): for each followed user, a LATERAL subquery takes at most limit+1 of their
// videos after the cursor from videos_user_id_created_at_id_idx, and the page is the newest
// limit+1 of those. The work is (followed users) x (page size) index reads at any depth; a
// plain join lets the planner walk the global time index instead, which for someone who
// follows a few quiet accounts means scanning most of the table to fill one page.
func (v *Videos) Following(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	limit, err := ParseLimit(c)
	if err != nil {
		return err
	}
	after, err := parseListCursor(c.Query("cursor"), videoListSpec{
		resolve: v.resolveVideo(c, func(r videoPos) position { return position{At: r.CreatedAt, ID: r.ID} }),
	})
	if err != nil {
		return err
	}
	keyset, args := "", []any{}
	if after != nil {
		keyset = " AND (v.created_at, v.id) < (?, ?)"
		args = append(args, after.At.UTC(), after.ID)
	}
	args = append(args, limit+1, viewer, limit+1)
	rows, err := queryVideos(v.DB.WithContext(c.Request.Context()), true, `SELECT `+videoColumns+`, v.created_at AS sort_at
		FROM follows f
		CROSS JOIN LATERAL (
			SELECT * FROM videos v WHERE v.user_id = f.following_id`+keyset+`
			ORDER BY v.created_at DESC, v.id DESC LIMIT ?) v
		JOIN users u ON u.id = v.user_id
		WHERE f.follower_id = ?
		ORDER BY v.created_at DESC, v.id DESC LIMIT ?`, args...)
	if err != nil {
		return err
	}
	rows, pagination := trimVideoPage(rows, limit, videoListSpec{})
	views, err := videoViews(c, v.DB, rows)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, videoPage{Videos: views, Pagination: ListPagination{Pagination: pagination}})
	return nil
}

// UserVideos answers GET /api/users/:id/videos: the user's videos, newest first.
func (v *Videos) UserVideos(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	if err := requireUser(c.Request.Context(), v.DB, id); err != nil {
		return err
	}
	return listVideos(c, v.DB, videoListSpec{
		from: videosWithAuthor, where: "v.user_id = ?", args: []any{id},
		keyA: "v.created_at", keyB: "v.id",
		resolve: v.resolveVideo(c, func(r videoPos) position { return position{At: r.CreatedAt, ID: r.ID} }),
	})
}

// Liked answers GET /api/users/:id/liked: the videos the user liked, newest like first. The
// keyset is the like's (created_at, video_id), served by video_likes_user_id_created_at_idx.
func (v *Videos) Liked(c *gin.Context) error {
	id, err := ParseID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := requireUser(ctx, v.DB, id); err != nil {
		return err
	}
	return listVideos(c, v.DB, videoListSpec{
		from:  "video_likes l JOIN videos v ON v.id = l.video_id JOIN users u ON u.id = v.user_id",
		where: "l.user_id = ?", args: []any{id},
		keyA: "l.created_at", keyB: "l.video_id",
		resolve: func(videoID int32) (position, bool, error) {
			var at []time.Time
			err := v.DB.WithContext(ctx).Raw(`SELECT created_at FROM video_likes WHERE user_id = ? AND video_id = ?`, id, videoID).
				Scan(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: videoID}, true, nil
		},
	})
}

// videoPos is what a bare numeric cursor needs to know about a video.
type videoPos struct {
	ID            int32     `gorm:"column:id"`
	CreatedAt     time.Time `gorm:"column:created_at"`
	TrendingScore float64   `gorm:"column:trending_score"`
}

// resolveVideo resolves a bare numeric cursor to the position of that video.
func (v *Videos) resolveVideo(c *gin.Context, pos func(videoPos) position) func(int32) (position, bool, error) {
	return func(id int32) (position, bool, error) {
		var rows []videoPos
		if err := v.DB.WithContext(c.Request.Context()).Raw(`SELECT id, created_at, trending_score FROM videos WHERE id = ?`, id).Scan(&rows).Error; err != nil {
			return position{}, false, err
		}
		if len(rows) == 0 {
			return position{}, false, nil
		}
		return pos(rows[0]), true, nil
	}
}
