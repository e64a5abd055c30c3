package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tiktok/hashtag"
	"tiktok/models"
)

// The sample dataset's shape, as in the Prisma version's prisma/seed.js.
const (
	sampleUsers            = 10
	sampleVideosPerUser    = 5
	sampleComments         = 200
	sampleVideoLikeTries   = 300 // random pairs; duplicates are skipped, so at most this many
	sampleCommentLikeTries = 150
	sampleFollows          = 40 // distinct pairs, no self-follows

	samplePassword   = "password123"
	sampleLoginEmail = "user1@example.com"
)

// wipeTables lists every application table; refresh_tokens goes too, since its users go, and
// the pending counter deltas, which reference no table (the scale mode loads with the
// triggers off, so no recount would clear them).
// RESTART IDENTITY makes ids start at 1 again, so a second run gives the same ids (the
// Prisma seed kept the sequences running and broke on a second run).
const wipeTables = `TRUNCATE users, videos, comments, video_likes, comment_likes, follows, refresh_tokens, hashtags,
	user_counter_deltas, video_counter_deltas, comment_counter_deltas RESTART IDENTITY CASCADE`

var loremSentences = []string{
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
	"Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
	"Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.",
	"Duis aute irure dolor in reprehenderit in voluptate velit esse.",
	"Excepteur sint occaecat cupidatat non proident.",
	"Sunt in culpa qui officia deserunt mollit anim id est laborum.",
	"Curabitur pretium tincidunt lacus, nulla gravida orci a odio.",
	"Nullam varius, turpis et commodo pharetra, est eros bibendum elit.",
}

// counts is what a seeding run made.
type counts struct {
	Users, Videos, Comments, VideoLikes, CommentLikes, Follows int64
	Files                                                      int // written to UPLOAD_DIR (-local-files)
}

func (c counts) String() string {
	return fmt.Sprintf("%d users, %d videos, %d comments, %d video likes, %d comment likes, %d follows",
		c.Users, c.Videos, c.Comments, c.VideoLikes, c.CommentLikes, c.Follows)
}

// seedSample replaces the tables' contents with the course's sample data, in one transaction.
// The counter triggers stay on and keep the counters exact as rows go in.
func seedSample(ctx context.Context, db *gorm.DB, opts options) (counts, error) {
	r := rand.New(rand.NewPCG(opts.Seed, 0x5eed5a3b1e))
	media, err := newSampleMedia(opts)
	if err != nil {
		return counts{}, err
	}
	var res counts
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(wipeTables).Error; err != nil {
			return fmt.Errorf("wipe the tables: %w", err)
		}
		// Timestamps lie in the month before the run, in creation order, so the feeds show a
		// plausible history; they depend only on the seed and the run's time.
		start := opts.Now.Add(-30 * 24 * time.Hour)
		at := func(after time.Time) time.Time {
			span := opts.Now.Sub(after)
			if span <= 0 {
				return after
			}
			return after.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Millisecond)
		}

		users := make([]models.User, sampleUsers)
		for i := range users {
			n := i + 1
			hash, err := bcrypt.GenerateFromPassword([]byte(samplePassword), opts.BcryptCost)
			if err != nil {
				return fmt.Errorf("hash the sample password: %w", err)
			}
			email := fmt.Sprintf("user%d@example.com", n)
			avatar, err := media.avatar(n, email)
			if err != nil {
				return fmt.Errorf("write an avatar: %w", err)
			}
			created := start.Add(time.Duration(i) * 24 * time.Hour).Add(time.Duration(r.Int64N(int64(time.Hour))))
			created = created.Truncate(time.Millisecond)
			users[i] = models.User{
				Username:  fmt.Sprintf("user%d", n),
				Email:     email,
				Password:  string(hash),
				Name:      ptr(fmt.Sprintf("User %d", n)),
				Bio:       ptr(fmt.Sprintf("This is the bio for user %d", n)),
				Avatar:    ptr(avatar),
				CreatedAt: created,
				UpdatedAt: created,
			}
		}
		if err := tx.Create(&users).Error; err != nil {
			return fmt.Errorf("insert users: %w", err)
		}

		var videos []models.Video
		for i, u := range users {
			n := i + 1
			for j := 1; j <= sampleVideosPerUser; j++ {
				created := at(u.CreatedAt)
				videoURL, err := media.video(n, j)
				if err != nil {
					return fmt.Errorf("write a video: %w", err)
				}
				thumbnail, err := media.thumbnail(n, j)
				if err != nil {
					return fmt.Errorf("write a thumbnail: %w", err)
				}
				videos = append(videos, models.Video{
					UserID:       u.ID,
					Caption:      ptr(fmt.Sprintf("Video %d from user %d #%s #%s", j, n, hashtags[r.IntN(len(hashtags))], hashtags[r.IntN(6)])),
					VideoURL:     videoURL,
					ThumbnailURL: ptr(thumbnail),
					AudioName:    ptr(fmt.Sprintf("Original Sound - User %d", n)),
					Views:        int32(r.IntN(10000)),
					CreatedAt:    created,
					UpdatedAt:    created,
				})
			}
		}
		if err := tx.Omit("Hashtags").Create(&videos).Error; err != nil {
			return fmt.Errorf("insert videos: %w", err)
		}
		if err := insertTags(tx, videos); err != nil {
			return fmt.Errorf("insert the videos' hashtags: %w", err)
		}

		comments := make([]models.Comment, sampleComments)
		for i := range comments {
			u, v := users[r.IntN(len(users))], videos[r.IntN(len(videos))]
			created := at(later(u.CreatedAt, v.CreatedAt))
			comments[i] = models.Comment{
				UserID:    u.ID,
				VideoID:   v.ID,
				Content:   fmt.Sprintf("This is comment %d. %s", i+1, lorem(r)),
				CreatedAt: created,
				UpdatedAt: created,
			}
		}
		if err := tx.Create(&comments).Error; err != nil {
			return fmt.Errorf("insert comments: %w", err)
		}

		type pair struct{ a, b int32 }
		seen := map[pair]bool{}
		var videoLikes []models.VideoLike
		for range sampleVideoLikeTries {
			u, v := users[r.IntN(len(users))], videos[r.IntN(len(videos))]
			if p := (pair{u.ID, v.ID}); !seen[p] {
				seen[p] = true
				videoLikes = append(videoLikes, models.VideoLike{UserID: u.ID, VideoID: v.ID, CreatedAt: at(later(u.CreatedAt, v.CreatedAt))})
			}
		}
		clear(seen)
		var commentLikes []models.CommentLike
		for range sampleCommentLikeTries {
			u, c := users[r.IntN(len(users))], comments[r.IntN(len(comments))]
			if p := (pair{u.ID, c.ID}); !seen[p] {
				seen[p] = true
				commentLikes = append(commentLikes, models.CommentLike{UserID: u.ID, CommentID: c.ID, CreatedAt: at(later(u.CreatedAt, c.CreatedAt))})
			}
		}
		clear(seen)
		var follows []models.Follow
		for len(follows) < sampleFollows {
			a, b := users[r.IntN(len(users))], users[r.IntN(len(users))]
			if p := (pair{a.ID, b.ID}); a.ID != b.ID && !seen[p] {
				seen[p] = true
				follows = append(follows, models.Follow{FollowerID: a.ID, FollowingID: b.ID, CreatedAt: at(later(a.CreatedAt, b.CreatedAt))})
			}
		}
		// The pairs are distinct already; DO NOTHING only guards the invariant.
		for _, batch := range []struct {
			name string
			rows any
		}{{"video likes", &videoLikes}, {"comment likes", &commentLikes}, {"follows", &follows}} {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(batch.rows).Error; err != nil {
				return fmt.Errorf("insert %s: %w", batch.name, err)
			}
		}
		res = counts{Users: int64(len(users)), Videos: int64(len(videos)), Comments: int64(len(comments)),
			VideoLikes: int64(len(videoLikes)), CommentLikes: int64(len(commentLikes)), Follows: int64(len(follows))}
		return nil
	})
	if err != nil {
		media.removeWritten() // no row references them
	}
	res.Files = len(media.written)
	return res, err
}

// lorem returns one to three sentences of filler text.
func lorem(r *rand.Rand) string {
	n := 1 + r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = loremSentences[r.IntN(len(loremSentences))]
	}
	return strings.Join(parts, " ")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// insertTags stores the hashtags of the videos' captions (hashtag.Parse, as the API does): the
// names, then the join rows; the triggers count them.
func insertTags(tx *gorm.DB, videos []models.Video) error {
	var ids []string
	var names []string
	for _, v := range videos {
		if v.Caption == nil {
			continue
		}
		for _, name := range hashtag.Parse(*v.Caption) {
			ids = append(ids, strconv.Itoa(int(v.ID)))
			names = append(names, name) // parser output: letters, digits, '_', no quotes
		}
	}
	if len(names) == 0 {
		return nil
	}
	nameArray, idArray := "{"+strings.Join(names, ",")+"}", "{"+strings.Join(ids, ",")+"}"
	if err := tx.Exec(`INSERT INTO hashtags (name) SELECT DISTINCT n FROM unnest(?::text[]) n ORDER BY n ON CONFLICT DO NOTHING`,
		nameArray).Error; err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT p.v, h.id FROM unnest(?::int[], ?::text[]) AS p(v, n) JOIN hashtags h ON h.name = p.n ORDER BY h.id, p.v`,
		idArray, nameArray).Error
}
