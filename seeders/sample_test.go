package main

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/hashtag"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
	"tiktok/models"
)

func TestSampleModeMakesTheCourseDataset(t *testing.T) {
	// Rows from an earlier life of the database must go, and ids must start at 1 again.
	if err := db.Exec(`INSERT INTO users (username, email, password) VALUES ('leftover', 'leftover@example.com', 'x')`).Error; err != nil {
		t.Fatal(err)
	}
	h := newHarness(db, config.EnvDevelopment)
	h.mustRun(t)

	for _, c := range []struct {
		what  string
		query string
		want  int64
	}{
		{"users", `SELECT count(*) FROM users`, 10},
		{"videos", `SELECT count(*) FROM videos`, 50},
		{"comments", `SELECT count(*) FROM comments`, 200},
		{"follows", `SELECT count(*) FROM follows`, 40},
		{"leftover users", `SELECT count(*) FROM users WHERE username = 'leftover'`, 0},
		{"users not numbered 1..10", `SELECT count(*) FROM users WHERE id NOT BETWEEN 1 AND 10`, 0},
		{"users without 5 videos", `SELECT count(*) FROM users WHERE (SELECT count(*) FROM videos v WHERE v.user_id = users.id) <> 5`, 0},
		{"views outside 0..9999", `SELECT count(*) FROM videos WHERE views NOT BETWEEN 0 AND 9999`, 0},
		{"comments not numbered in content", `SELECT count(*) FROM comments WHERE content NOT LIKE 'This is comment ' || id || '. %'`, 0},
	} {
		if got := count(t, db, c.query); got != c.want {
			t.Errorf("%s: got %d, want %d", c.what, got, c.want)
		}
	}
	videoLikes := count(t, db, `SELECT count(*) FROM video_likes`)
	commentLikes := count(t, db, `SELECT count(*) FROM comment_likes`)
	if videoLikes < 200 || videoLikes > 300 {
		t.Errorf("video likes: got %d, want at most 300 (300 random pairs less duplicates)", videoLikes)
	}
	if commentLikes < 100 || commentLikes > 150 {
		t.Errorf("comment likes: got %d, want at most 150 (150 random pairs less duplicates)", commentLikes)
	}
	assertNoDuplicatesOrSelfFollows(t, db)
	assertForeignKeysValid(t, db)
	testdb.AssertCountersExact(t, db)
	assertTagsAreTheCaptions(t, db)

	var users []models.User
	if err := db.Order("id").Find(&users).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		n := u.ID
		want := models.User{Username: fmt.Sprintf("user%d", n), Email: fmt.Sprintf("user%d@example.com", n)}
		if u.Username != want.Username || u.Email != want.Email ||
			deref(u.Name) != fmt.Sprintf("User %d", n) ||
			deref(u.Bio) != fmt.Sprintf("This is the bio for user %d", n) ||
			deref(u.Avatar) != fmt.Sprintf("https://i.pravatar.cc/150?u=user%d@example.com", n) {
			t.Errorf("user %d: got %s / %s / %q / %q / %q", n, u.Username, u.Email, deref(u.Name), deref(u.Bio), deref(u.Avatar))
		}
	}
	var video models.Video
	if err := db.Where("user_id = ?", 3).Order("id").Offset(1).First(&video).Error; err != nil {
		t.Fatal(err)
	}
	// The course's caption, with two tags after it.
	if !strings.HasPrefix(deref(video.Caption), "Video 2 from user 3 #") || len(hashtag.Parse(deref(video.Caption))) == 0 ||
		video.VideoURL != "https://example.com/videos/user3_video2.mp4" ||
		deref(video.ThumbnailURL) != "https://example.com/thumbnails/user3_video2.jpg" ||
		deref(video.AudioName) != "Original Sound - User 3" {
		t.Errorf("user 3's second video: got %q %q %q %q", deref(video.Caption), video.VideoURL, deref(video.ThumbnailURL), deref(video.AudioName))
	}

	// The seeded login works through the real login handler and router.
	api := apitest.New(t, db)
	login := api.Do("POST", "/api/users/login", `{"email":"user1@example.com","password":"password123"}`, "").Status(200).Map()
	token, _ := login["token"].(string)
	user, _ := login["user"].(map[string]any)
	if token == "" || user["username"] != "user1" {
		t.Errorf("login as user1: %v", login)
	}
	api.Do("POST", "/api/users/login", `{"email":"user1@example.com","password":"password124"}`, "").Error(401, "invalid_credentials")

	var hash string
	if err := db.Raw(`SELECT password FROM users WHERE email = ?`, "user1@example.com").Scan(&hash).Error; err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("password123")); err != nil {
		t.Errorf("user1 cannot log in with password123: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("password124")); err == nil {
		t.Error("user1's hash accepts a wrong password")
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != 4 {
		t.Errorf("hash cost: got %d (%v), want BCRYPT_COST=4", cost, err)
	}
	for _, want := range []string{"10 users, 50 videos, 200 comments", "user1@example.com / password123"} {
		if !strings.Contains(h.stdout.String(), want) {
			t.Errorf("output %q does not say %q", h.stdout.String(), want)
		}
	}
}

func TestSampleModeTwiceGivesIdenticalData(t *testing.T) {
	h := newHarness(db, config.EnvDevelopment)
	h.mustRun(t)
	first := dump(t, db)
	h.mustRun(t)
	if second := dump(t, db); second != first {
		t.Fatalf("a second run with the same seed made different data:\n%s", firstDifference(first, second))
	}
	var hashes []string
	if err := db.Raw(`SELECT password FROM users`).Scan(&hashes).Error; err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 10 {
		t.Fatalf("%d users after the second run, want 10", len(hashes))
	}
	for _, hash := range hashes {
		if bcrypt.CompareHashAndPassword([]byte(hash), []byte("password123")) != nil {
			t.Fatal("after the second run, a user cannot log in with password123")
		}
	}

	h.mustRun(t, "-seed", "7")
	if other := dump(t, db); other == first {
		t.Error("-seed 7 made the same data as the default seed")
	}
	h.mustRun(t, "-seed", "42")
	if again := dump(t, db); again != first {
		t.Errorf("-seed 42 (the default) made different data:\n%s", firstDifference(first, again))
	}
}

func TestSampleModeFailingMidwayChangesNothing(t *testing.T) {
	h := newHarness(db, config.EnvDevelopment)
	h.mustRun(t, "-seed", "3")
	before := dump(t, db)

	// Follows go in last; make them fail, after the wipe and every other insert.
	breakFollows(t, db)
	err := h.run(t)
	if err == nil || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Fatalf("got %v, want a failure that says nothing was changed", err)
	}
	if after := dump(t, db); after != before {
		t.Fatalf("a failed run changed the data:\n%s", firstDifference(before, after))
	}
}

// breakFollows makes every new follow fail (NOT VALID: the rows already there are fine) until
// the test ends.
func breakFollows(t *testing.T, target *gorm.DB) {
	t.Helper()
	if err := target.Exec(`ALTER TABLE follows ADD CONSTRAINT seeders_test_no_new_follows CHECK (follower_id < 0) NOT VALID`).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := target.Exec(`ALTER TABLE follows DROP CONSTRAINT IF EXISTS seeders_test_no_new_follows`).Error; err != nil {
			t.Error(err)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// firstDifference shows the first differing line of two dumps.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  was: %s\n  now: %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("one dump is longer (%d vs %d lines)", len(al), len(bl))
}
