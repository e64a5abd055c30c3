package store

import (
	"net/url"
	"strings"
	"time"

	"tiktok/hashtag"
	"tiktok/models"
	"tiktok/storage"
)

// The view structs are API.md's shapes: what a list or a read returns, viewer fields filled,
// ready to be sent as JSON. The password hash has no field in any of them, so it cannot leak.
// Every media URL of a view goes through MediaURLs.Public on its way in.

// MediaURLs renders the media URLs of rows (videoUrl, thumbnailUrl, avatar) as clients get
// them. Rows keep a stored file's URL as it was when stored: "/uploads/<name>" for a file on
// this server's disk (the Prisma version kept the same), the bucket's absolute URL for an
// object; a URL a client gave is kept as given. Only the first kind changes, at rendering:
// PublicBaseURL goes in front. So a new PUBLIC_BASE_URL (another domain, a CDN in front of this
// server) needs no rewrite of the rows, and old rows come out absolute too.
type MediaURLs struct {
	// PublicBaseURL is where clients reach this server (PUBLIC_BASE_URL, no trailing slash;
	// it may carry a path prefix). Empty leaves "/uploads/<name>" as it is.
	PublicBaseURL string
	// BucketURL is the object store's public base URL (S3_PUBLIC_BASE_URL), empty without
	// one: its URLs are already absolute, and Own recognises them.
	BucketURL string
}

// Public is the URL clients get for the URL stored.
func (m MediaURLs) Public(stored string) string {
	if m.PublicBaseURL != "" && strings.HasPrefix(stored, storage.URLPrefix) {
		return m.PublicBaseURL + stored
	}
	return stored
}

func (m MediaURLs) publicPtr(stored *string) *string {
	if stored == nil {
		return nil
	}
	u := m.Public(*stored)
	return &u
}

// Own reports whether u points into this server's own storage: a path under /uploads/, the
// same under PublicBaseURL (scheme and host in any case, escapes decoded), or anything under
// BucketURL. stored is the form rows keep of it ("/uploads/<name>" for the first two). A
// client may not give such a URL as text: it would claim a file stored for someone else, and
// its row's deletion would delete that file.
func (m MediaURLs) Own(u string) (stored string, ok bool) {
	if strings.HasPrefix(u, storage.URLPrefix) {
		return u, true
	}
	if rest, ok := under(u, m.PublicBaseURL); ok && strings.HasPrefix(rest, storage.URLPrefix) {
		return rest, true
	}
	if _, ok := under(u, m.BucketURL); ok {
		return u, true
	}
	return "", false
}

// OwnStorageReason is why a URL Own recognises is refused as the text of field (videoUrl,
// thumbnailUrl, avatar).
func OwnStorageReason(field string) string {
	return "points into this server's storage: upload the file, or register it with " +
		strings.TrimSuffix(field, "Url") + "StoragePath"
}

// under reports whether the URL u lies under base (same scheme and host, base's path a prefix
// of u's) and returns the rest of its path, with the query and fragment if any.
func under(u, base string) (rest string, ok bool) {
	if base == "" {
		return "", false
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", false
	}
	p, err := url.Parse(u)
	if err != nil || !strings.EqualFold(p.Scheme, b.Scheme) || !strings.EqualFold(p.Host, b.Host) {
		return "", false
	}
	prefix := strings.TrimRight(b.Path, "/")
	rest, ok = strings.CutPrefix(p.Path, prefix)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return "", false
	}
	if p.RawQuery != "" || p.ForceQuery {
		rest += "?" + p.RawQuery
	}
	if p.Fragment != "" {
		rest += "#" + p.Fragment
	}
	return rest, true
}

// Timestamp marshals as JavaScript's Date.toISOString() does ("2025-03-25T17:11:38.123Z"),
// which is what the course frontend parses and what API.md fixes for every timestamp.
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(timestampLayout) + `"`), nil
}

// UserCount is the Prisma-style _count object of a user.
type UserCount struct {
	Videos     int32 `json:"videos"`
	FollowedBy int32 `json:"followedBy"`
	Following  int32 `json:"following"`
}

// UserSummary is the small form of a user embedded in lists, videos and comments.
// IsFollowing is present only when a viewer is known.
type UserSummary struct {
	ID          int32   `json:"id"`
	Username    string  `json:"username"`
	Name        *string `json:"name"`
	Avatar      *string `json:"avatar"`
	IsFollowing *bool   `json:"isFollowing,omitempty"`
}

// UserListItem is a row of GET /api/users: a UserSummary with bio and _count.
type UserListItem struct {
	UserSummary
	Bio   *string   `json:"bio"`
	Count UserCount `json:"_count"`
}

// UserProfile is the full user of GET /api/users/:id and friends. Email is set only when the
// viewer is that user.
type UserProfile struct {
	ID             int32     `json:"id"`
	Username       string    `json:"username"`
	Email          *string   `json:"email,omitempty"`
	Name           *string   `json:"name"`
	Bio            *string   `json:"bio"`
	Avatar         *string   `json:"avatar"`
	CreatedAt      Timestamp `json:"createdAt"`
	FollowerCount  int32     `json:"followerCount"`
	FollowingCount int32     `json:"followingCount"`
	VideoCount     int32     `json:"videoCount"`
	LikeCount      int32     `json:"likeCount"`
	Count          UserCount `json:"_count"`
	IsFollowing    bool      `json:"isFollowing"`
}

func userCount(u *models.User) UserCount {
	return UserCount{Videos: u.VideoCount, FollowedBy: u.FollowerCount, Following: u.FollowingCount}
}

func (m MediaURLs) userSummary(u *models.User, isFollowing *bool) UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, Name: u.Name, Avatar: m.publicPtr(u.Avatar), IsFollowing: isFollowing}
}

// ProfileOf builds the profile of u as viewer (0 for anonymous) sees it: the e-mail only for
// its owner. The auth answers use it for the user just registered, logged in or edited.
func (s *Users) ProfileOf(u *models.User, viewer int32, isFollowing bool) UserProfile {
	p := UserProfile{
		ID: u.ID, Username: u.Username, Name: u.Name, Bio: u.Bio, Avatar: s.media.publicPtr(u.Avatar),
		CreatedAt:      Timestamp(u.CreatedAt),
		FollowerCount:  u.FollowerCount,
		FollowingCount: u.FollowingCount,
		VideoCount:     u.VideoCount,
		LikeCount:      u.LikeCount,
		Count:          userCount(u),
		IsFollowing:    isFollowing,
	}
	if viewer != 0 && viewer == u.ID {
		email := u.Email
		p.Email = &email
	}
	return p
}

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

// VideoView is the Video shape of API.md. Sound is AudioName again, under the name the course
// frontend reads (video.sound).
type VideoView struct {
	ID           int32       `json:"id"`
	UserID       int32       `json:"userId"`
	Caption      *string     `json:"caption"`
	VideoURL     string      `json:"videoUrl"`
	ThumbnailURL *string     `json:"thumbnailUrl"`
	AudioName    *string     `json:"audioName"`
	Sound        *string     `json:"sound"`
	Views        int32       `json:"views"`
	CreatedAt    Timestamp   `json:"createdAt"`
	UpdatedAt    Timestamp   `json:"updatedAt"`
	User         UserSummary `json:"user"`
	LikeCount    int32       `json:"likeCount"`
	CommentCount int32       `json:"commentCount"`
	// BookmarkCount is how many users saved the video; IsBookmarked, whether the viewer did.
	BookmarkCount int32      `json:"bookmarkCount"`
	Count         VideoCount `json:"_count"`
	IsLiked       bool       `json:"isLiked"`
	IsBookmarked  bool       `json:"isBookmarked"`
	Likes         []LikeRef  `json:"likes"`
	// Hashtags are the caption's tags in caption order (never null). Parsing the caption is a
	// few hundred nanoseconds, less than reading video_hashtags would cost, and gives the
	// same names: the store stores what the same parser finds.
	Hashtags []string `json:"hashtags"`
	// Status is ready, processing or failed (API.md, "Media processing"). StatusReason says
	// why a video failed, in words for its owner: present only for the owner of a failed
	// video. Duration (seconds), Width and Height are null until the file is probed and for
	// videos given by URL.
	Status       string   `json:"status"`
	StatusReason *string  `json:"statusReason,omitempty"`
	Duration     *float64 `json:"duration"`
	Width        *int32   `json:"width"`
	Height       *int32   `json:"height"`
}

func (m MediaURLs) videoView(r *videoRow, viewer int32, marks videoMarks, isFollowing *bool) VideoView {
	likes := []LikeRef{}
	if marks.liked {
		likes = append(likes, LikeRef{UserID: viewer})
	}
	v := VideoView{
		ID: r.ID, UserID: r.UserID, Caption: r.Caption, VideoURL: m.Public(r.VideoURL),
		ThumbnailURL: m.publicPtr(r.ThumbnailURL), AudioName: r.AudioName, Sound: r.AudioName, Views: r.Views,
		CreatedAt: Timestamp(r.CreatedAt), UpdatedAt: Timestamp(r.UpdatedAt),
		User: UserSummary{ID: r.UserID, Username: r.AuthorUsername, Name: r.AuthorName,
			Avatar: m.publicPtr(r.AuthorAvatar), IsFollowing: isFollowing},
		LikeCount: r.LikeCount, CommentCount: r.CommentCount, BookmarkCount: r.BookmarkCount,
		Count:   VideoCount{Likes: r.LikeCount, Comments: r.CommentCount},
		IsLiked: marks.liked, IsBookmarked: marks.bookmarked, Likes: likes, Hashtags: captionTags(r.Caption),
		Status: r.Status, Duration: r.Duration, Width: r.Width, Height: r.Height,
	}
	if viewer != 0 && viewer == r.UserID {
		v.StatusReason = r.StatusReason
	}
	return v
}

// captionTags is hashtag.Parse of caption, [] for none.
func captionTags(caption *string) []string {
	if caption == nil {
		return []string{}
	}
	if tags := hashtag.Parse(*caption); tags != nil {
		return tags
	}
	return []string{}
}

// CommentCount is the Prisma-style _count object of a comment.
type CommentCount struct {
	Likes int32 `json:"likes"`
}

// CommentView is the Comment shape of API.md.
type CommentView struct {
	ID      int32  `json:"id"`
	Content string `json:"content"`
	UserID  int32  `json:"userId"`
	VideoID int32  `json:"videoId"`
	// ParentID is the top-level comment of a reply (null for a top-level comment); ReplyTo
	// the author a reply answers.
	ParentID   *int32       `json:"parentId"`
	ReplyTo    *UserSummary `json:"replyTo"`
	ReplyCount int32        `json:"replyCount"`
	CreatedAt  Timestamp    `json:"createdAt"`
	UpdatedAt  Timestamp    `json:"updatedAt"`
	User       UserSummary  `json:"user"`
	LikeCount  int32        `json:"likeCount"`
	Count      CommentCount `json:"_count"`
	IsLiked    bool         `json:"isLiked"`
}
