package controllers

import (
	"time"

	"tiktok/models"
)

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
// viewer is that user; the password hash has no field here at all, so it cannot leak.
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

// NewUserSummary builds the summary of u; pass isFollowing only when a viewer is known.
func NewUserSummary(u *models.User, isFollowing *bool) UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, Name: u.Name, Avatar: u.Avatar, IsFollowing: isFollowing}
}

// NewUserProfile builds the profile of u as viewerID (0 for anonymous) sees it: the e-mail
// only for its owner.
func NewUserProfile(u *models.User, viewerID int32, isFollowing bool) UserProfile {
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
	if viewerID != 0 && viewerID == u.ID {
		email := u.Email
		p.Email = &email
	}
	return p
}
