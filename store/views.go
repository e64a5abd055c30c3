package store

import (
	"time"

	"tiktok/models"
)

// The view structs are API.md's shapes: what a list or a read returns, viewer fields filled,
// ready to be sent as JSON. The password hash has no field in any of them, so it cannot leak.

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

func newUserSummary(u *models.User, isFollowing *bool) UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, Name: u.Name, Avatar: u.Avatar, IsFollowing: isFollowing}
}

// NewUserProfile builds the profile of u as viewer (0 for anonymous) sees it: the e-mail only
// for its owner. The auth service uses it for the user it has just registered or logged in.
func NewUserProfile(u *models.User, viewer int32, isFollowing bool) UserProfile {
	p := UserProfile{
		ID: u.ID, Username: u.Username, Name: u.Name, Bio: u.Bio, Avatar: u.Avatar,
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
	Count        VideoCount  `json:"_count"`
	IsLiked      bool        `json:"isLiked"`
	Likes        []LikeRef   `json:"likes"`
}

// CommentCount is the Prisma-style _count object of a comment.
type CommentCount struct {
	Likes int32 `json:"likes"`
}

// CommentView is the Comment shape of API.md.
type CommentView struct {
	ID        int32        `json:"id"`
	Content   string       `json:"content"`
	UserID    int32        `json:"userId"`
	VideoID   int32        `json:"videoId"`
	CreatedAt Timestamp    `json:"createdAt"`
	UpdatedAt Timestamp    `json:"updatedAt"`
	User      UserSummary  `json:"user"`
	LikeCount int32        `json:"likeCount"`
	Count     CommentCount `json:"_count"`
	IsLiked   bool         `json:"isLiked"`
}
