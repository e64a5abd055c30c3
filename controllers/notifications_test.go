package controllers_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

type notificationJSON struct {
	ID    int32  `json:"id"`
	Type  string `json:"type"`
	Actor struct {
		ID          int32  `json:"id"`
		Username    string `json:"username"`
		IsFollowing *bool  `json:"isFollowing"`
	} `json:"actor"`
	Video *struct {
		ID      int32   `json:"id"`
		Caption *string `json:"caption"`
	} `json:"video"`
	Comment *struct {
		ID      int32  `json:"id"`
		Content string `json:"content"`
	} `json:"comment"`
	CreatedAt string `json:"createdAt"`
	Read      bool   `json:"read"`
}

type notificationListJSON struct {
	Notifications []notificationJSON `json:"notifications"`
	Pagination    paginationJSON     `json:"pagination"`
	UnreadCount   int64              `json:"unreadCount"`
}

// notificationsOf is every notification of u (up to 50), newest first.
func notificationsOf(api *apitest.API, u *apitest.User) []notificationJSON {
	api.T.Helper()
	var l notificationListJSON
	api.Do("GET", "/api/notifications?limit=50", nil, u.Token).Status(http.StatusOK).Decode(&l)
	return l.Notifications
}

// only returns the notifications of kind.
func only(ns []notificationJSON, kind string) []notificationJSON {
	var out []notificationJSON
	for _, n := range ns {
		if n.Type == kind {
			out = append(out, n)
		}
	}
	return out
}

func expectOne(t *testing.T, ns []notificationJSON, kind string, actor int32) notificationJSON {
	t.Helper()
	got := only(ns, kind)
	if len(got) != 1 || got[0].Actor.ID != actor {
		t.Fatalf("want one %q notification from user %d, have %+v", kind, actor, ns)
	}
	return got[0]
}

func expectNone(t *testing.T, ns []notificationJSON, kind string) {
	t.Helper()
	if got := only(ns, kind); len(got) != 0 {
		t.Fatalf("want no %q notification, have %+v", kind, got)
	}
}

func TestEveryNotificationKindIsMadeOnceUndoneAndNeverToYourself(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob, carol := api.NewUser("alice"), api.NewUser("bob"), api.NewUser("carol")
	video := postVideo(api, alice, "mine")

	t.Run("like", func(t *testing.T) {
		for range 2 {
			api.Do("POST", path("/api/videos/%d/like", video.ID), nil, bob.Token).Status(http.StatusOK)
		}
		n := expectOne(t, notificationsOf(api, alice), "like", bob.ID)
		if n.Video == nil || n.Video.ID != video.ID || n.Comment != nil || n.Read {
			t.Fatalf("like notification: %+v", n)
		}
		api.Do("POST", path("/api/videos/%d/like", video.ID), nil, alice.Token).Status(http.StatusOK)
		expectOne(t, notificationsOf(api, alice), "like", bob.ID) // not one for her own like
		api.Do("DELETE", path("/api/videos/%d/like", video.ID), nil, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, alice), "like")
	})

	t.Run("comment and comment_like", func(t *testing.T) {
		c := postComment(api, bob, video.ID, "nice")
		n := expectOne(t, notificationsOf(api, alice), "comment", bob.ID)
		if n.Comment == nil || n.Comment.ID != c.ID || n.Comment.Content != "nice" || n.Video == nil || n.Video.ID != video.ID {
			t.Fatalf("comment notification: %+v", n)
		}
		for range 2 {
			api.Do("POST", path("/api/comments/%d/like", c.ID), nil, carol.Token).Status(http.StatusOK)
		}
		expectOne(t, notificationsOf(api, bob), "comment_like", carol.ID)
		api.Do("POST", path("/api/comments/%d/like", c.ID), nil, bob.Token).Status(http.StatusOK)
		expectOne(t, notificationsOf(api, bob), "comment_like", carol.ID)
		api.Do("DELETE", path("/api/comments/%d/like", c.ID), nil, carol.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, bob), "comment_like")

		own := postComment(api, alice, video.ID, "my own video")
		expectOne(t, notificationsOf(api, alice), "comment", bob.ID)
		api.Do("DELETE", path("/api/comments/%d", c.ID), nil, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, alice), "comment")
		api.Do("DELETE", path("/api/comments/%d", own.ID), nil, alice.Token).Status(http.StatusOK)
	})

	t.Run("reply", func(t *testing.T) {
		c := postComment(api, bob, video.ID, "question")
		r := postReply(api, carol, video.ID, c.ID, "answer")
		n := expectOne(t, notificationsOf(api, bob), "reply", carol.ID)
		if n.Comment == nil || n.Comment.ID != r.ID {
			t.Fatalf("reply notification: %+v", n)
		}
		// The video's owner hears of the reply as a comment on her video.
		if got := only(notificationsOf(api, alice), "comment"); len(got) != 2 {
			t.Fatalf("alice has %d comment notifications, want 2 (comment and reply)", len(got))
		}
		postReply(api, bob, video.ID, c.ID, "answering myself")
		expectOne(t, notificationsOf(api, bob), "reply", carol.ID)
		api.Do("DELETE", path("/api/comments/%d", r.ID), nil, carol.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, bob), "reply")
		api.Do("DELETE", path("/api/comments/%d", c.ID), nil, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, alice), "comment")
	})

	t.Run("follow", func(t *testing.T) {
		for range 2 {
			api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, bob.Token).Status(http.StatusOK)
		}
		expectOne(t, notificationsOf(api, alice), "follow", bob.ID)
		api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, alice.Token).Status(http.StatusBadRequest)
		api.Do("DELETE", path("/api/users/%d/follow", alice.ID), nil, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, alice), "follow")
		api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, bob.Token).Status(http.StatusOK)
		if n := expectOne(t, notificationsOf(api, alice), "follow", bob.ID); n.Actor.IsFollowing == nil || *n.Actor.IsFollowing {
			t.Fatalf("alice does not follow bob back yet: %+v", n.Actor)
		}
		api.Do("POST", path("/api/users/%d/follow", bob.ID), nil, alice.Token).Status(http.StatusOK)
		if n := expectOne(t, notificationsOf(api, alice), "follow", bob.ID); n.Actor.IsFollowing == nil || !*n.Actor.IsFollowing {
			t.Fatalf("alice follows bob back: %+v", n.Actor)
		}
	})

	t.Run("mention in a comment", func(t *testing.T) {
		c := postComment(api, bob, video.ID, fmt.Sprintf("hey @%s and @%s, @nobody_here_%d, me @%s, mail %s",
			carol.Username, strings.ToUpper(carol.Username), bob.ID, bob.Username, alice.Email))
		n := expectOne(t, notificationsOf(api, carol), "mention", bob.ID)
		if n.Comment == nil || n.Comment.ID != c.ID {
			t.Fatalf("mention notification: %+v", n)
		}
		expectNone(t, notificationsOf(api, bob), "mention")
		// alice owns the video: she is told once, of the comment, not again of a mention.
		expectNone(t, notificationsOf(api, alice), "mention")
		// Editing the comment: mentions follow the text.
		api.Do("PUT", path("/api/comments/%d", c.ID), map[string]any{"content": "@" + alice.Username + " only"}, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, carol), "mention")
		api.Do("DELETE", path("/api/comments/%d", c.ID), nil, bob.Token).Status(http.StatusOK)
	})

	t.Run("mention in a caption follows its edits", func(t *testing.T) {
		v := postVideo(api, bob, "with @"+carol.Username+" and @"+bob.Username)
		before := expectOne(t, notificationsOf(api, carol), "mention", bob.ID)
		if before.Video == nil || before.Video.ID != v.ID || before.Comment != nil {
			t.Fatalf("caption mention: %+v", before)
		}
		expectNone(t, notificationsOf(api, bob), "mention")
		// Still mentioned: the same notification stays; newly mentioned: told; dropped: removed.
		api.Do("PUT", path("/api/videos/%d", v.ID), map[string]any{"caption": "@" + carol.Username + " @" + alice.Username}, bob.Token).Status(http.StatusOK)
		if after := expectOne(t, notificationsOf(api, carol), "mention", bob.ID); after.ID != before.ID {
			t.Fatalf("an edit that keeps the mention made a new notification: %d, then %d", before.ID, after.ID)
		}
		expectOne(t, notificationsOf(api, alice), "mention", bob.ID)
		api.Do("PUT", path("/api/videos/%d", v.ID), map[string]any{"caption": "nobody"}, bob.Token).Status(http.StatusOK)
		expectNone(t, notificationsOf(api, carol), "mention")
		expectNone(t, notificationsOf(api, alice), "mention")

		// Deleting a video removes every notification about it.
		api.Do("PUT", path("/api/videos/%d", v.ID), map[string]any{"caption": "@" + carol.Username}, bob.Token).Status(http.StatusOK)
		api.Do("POST", path("/api/videos/%d/like", v.ID), nil, carol.Token).Status(http.StatusOK)
		postComment(api, alice, v.ID, "hello")
		if n := countOf(t, `SELECT count(*) FROM notifications WHERE video_id = ?`, v.ID); n != 3 {
			t.Fatalf("%d notifications about the video, want 3", n)
		}
		api.Do("DELETE", path("/api/videos/%d", v.ID), nil, bob.Token).Status(http.StatusOK)
		if n := countOf(t, `SELECT count(*) FROM notifications WHERE video_id = ?`, v.ID); n != 0 {
			t.Fatalf("%d notifications outlived their video", n)
		}
	})

	if n := countOf(t, `SELECT count(*) FROM notifications WHERE user_id = actor_id`); n != 0 {
		t.Fatalf("%d notifications to their own actor", n)
	}
}

func TestFiftyMentionsNotifyAtMostTwenty(t *testing.T) {
	api := apitest.New(t, db)
	bob := api.NewUser("bob")
	prefix := strings.ToLower(apitest.Unique("m"))
	testdb.MustRun(t, db, `INSERT INTO users (username, email, password) SELECT ? || g, ? || g || '@example.com', 'x' FROM generate_series(1, 50) g`, prefix, prefix)
	var text strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&text, "@%s%d ", prefix, i)
	}
	fmt.Fprintf(&text, "@%s1 again", prefix)
	video := postVideo(api, bob, "")
	c := postComment(api, bob, video.ID, text.String())
	if n := countOf(t, `SELECT count(*) FROM notifications WHERE comment_id = ? AND type = 'mention'`, c.ID); n != 20 {
		t.Fatalf("50 mentions made %d notifications, want 20", n)
	}
	v := postVideo(api, bob, text.String())
	if n := countOf(t, `SELECT count(*) FROM notifications WHERE video_id = ? AND type = 'mention'`, v.ID); n != 20 {
		t.Fatalf("a caption's 50 mentions made %d notifications, want 20", n)
	}
}

func TestNotificationListPagesByTypeWithAFixedStatementCount(t *testing.T) {
	api, counter := countingAPI(t)
	alice := api.NewUser("alice")
	// 30 followers and 30 likes of one video, written straight into the tables.
	prefix := strings.ToLower(apitest.Unique("f"))
	var fans []int32
	testdb.MustScan(t, db, &fans, `INSERT INTO users (username, email, password) SELECT ? || g, ? || g || '@example.com', 'x'
		FROM generate_series(1, 30) g RETURNING id`, prefix, prefix)
	video := postVideo(api, alice, "popular")
	testdb.MustRun(t, db, `INSERT INTO notifications (user_id, actor_id, type, video_id, created_at)
		SELECT ?, id, 'like', ?, now() - (id % 7) * interval '1 second' FROM users WHERE id IN ?`, alice.ID, video.ID, fans)
	testdb.MustRun(t, db, `INSERT INTO notifications (user_id, actor_id, type, created_at)
		SELECT ?, id, 'follow', now() - (id % 5) * interval '1 second' FROM users WHERE id IN ?`, alice.ID, fans)

	statements := func(q string) (int64, notificationListJSON) {
		var l notificationListJSON
		before := counter.Count()
		api.Do("GET", q, nil, alice.Token).Status(http.StatusOK).Decode(&l)
		return counter.Count() - before, l
	}
	// The auth middleware's statements are the same for every request; the difference between
	// page sizes must be zero, and a page costs what the unread count alone costs: one
	// statement (the page with the actors' isFollowing and the unread count).
	one, _ := statements("/api/notifications?limit=1")
	fifty, _ := statements("/api/notifications?limit=50")
	if one != fifty {
		t.Fatalf("%d statements for a page of 1, %d for 50", one, fifty)
	}
	baseline, _ := statements("/api/notifications/unread-count")
	if one != baseline {
		t.Fatalf("a page costs %d statements, the unread count alone %d: want equal", one, baseline)
	}

	// Every follow, newest first, in pages of 7, none twice, none skipped.
	seen := map[int32]bool{}
	cursor := ""
	var last string
	for pages := 0; ; pages++ {
		q := "/api/notifications?type=follow&limit=7"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		_, l := statements(q)
		if l.UnreadCount != 60 {
			t.Fatalf("unreadCount %d, want 60", l.UnreadCount)
		}
		for _, n := range l.Notifications {
			if n.Type != "follow" || seen[n.ID] || (last != "" && n.CreatedAt > last) {
				t.Fatalf("page %d: out of order, repeated or wrong type: %+v", pages, n)
			}
			seen[n.ID], last = true, n.CreatedAt
		}
		if !l.Pagination.HasNextPage {
			break
		}
		cursor = *l.Pagination.NextCursor
	}
	if len(seen) != 30 {
		t.Fatalf("paged through %d follows, want 30", len(seen))
	}
	api.Do("GET", "/api/notifications?type=bogus", nil, alice.Token).Error(http.StatusBadRequest, "validation_failed")
	api.Do("GET", "/api/notifications?cursor=nope", nil, alice.Token).Error(http.StatusBadRequest, "validation_failed")
	api.Do("GET", "/api/notifications", nil, "").Error(http.StatusUnauthorized, "token_missing")
}

func TestMarkReadIgnoresOthersAndRejectsNonNumbers(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob, carol := api.NewUser("alice"), api.NewUser("bob"), api.NewUser("carol")
	api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, bob.Token).Status(http.StatusOK)
	api.Do("POST", path("/api/users/%d/follow", alice.ID), nil, carol.Token).Status(http.StatusOK)
	api.Do("POST", path("/api/users/%d/follow", bob.ID), nil, carol.Token).Status(http.StatusOK)
	mine := notificationsOf(api, alice)
	bobs := notificationsOf(api, bob)

	for _, body := range []string{`{"ids": ["1"]}`, `{"ids": [1.5]}`, `{"ids": [0]}`, `{"ids": [null]}`, `{"ids": "1"}`,
		`{"ids": [99999999999]}`, `{}`, `{"all": false}`, `[1]`} {
		api.Do("POST", "/api/notifications/read", body, alice.Token).Status(http.StatusBadRequest)
	}
	var res struct {
		UnreadCount int64 `json:"unreadCount"`
	}
	api.Do("POST", "/api/notifications/read", map[string]any{"ids": []int32{mine[0].ID, bobs[0].ID}}, alice.Token).Status(http.StatusOK).Decode(&res)
	if res.UnreadCount != 1 {
		t.Fatalf("unreadCount %d after reading one of two, want 1", res.UnreadCount)
	}
	if n := notificationsOf(api, bob); n[0].Read {
		t.Fatal("alice marked bob's notification read")
	}
	api.Do("POST", "/api/notifications/read", map[string]any{"all": true}, alice.Token).Status(http.StatusOK).Decode(&res)
	api.Do("GET", "/api/notifications/unread-count", nil, alice.Token).Status(http.StatusOK).Decode(&res)
	if res.UnreadCount != 0 {
		t.Fatalf("unreadCount %d after reading all", res.UnreadCount)
	}
	api.Do("GET", "/api/notifications/unread-count", nil, bob.Token).Status(http.StatusOK).Decode(&res)
	if res.UnreadCount != 1 {
		t.Fatalf("bob's unreadCount %d, want 1", res.UnreadCount)
	}
}

func TestUnreadCountIsExactAfterMarkReadRaces(t *testing.T) {
	api := apitest.New(t, db)
	alice := api.NewUser("alice")
	prefix := strings.ToLower(apitest.Unique("u"))
	var ids []int32
	testdb.MustScan(t, db, &ids, `WITH u AS (INSERT INTO users (username, email, password)
			SELECT ? || g, ? || g || '@example.com', 'x' FROM generate_series(1, 60) g RETURNING id)
		INSERT INTO notifications (user_id, actor_id, type) SELECT ?, id, 'follow' FROM u RETURNING id`, prefix, prefix, alice.ID)
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 5 {
				pick := []int32{ids[r.IntN(len(ids))], ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]}
				res := api.Do("POST", "/api/notifications/read", map[string]any{"ids": pick}, alice.Token)
				if res.Code != http.StatusOK {
					t.Errorf("mark read: %d %s", res.Code, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	var res struct {
		UnreadCount int64 `json:"unreadCount"`
	}
	api.Do("GET", "/api/notifications/unread-count", nil, alice.Token).Status(http.StatusOK).Decode(&res)
	want := countOf(t, `SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, alice.ID)
	if res.UnreadCount != want || want == 0 || want == 60 {
		t.Fatalf("unreadCount %d, rows unread %d (want equal, and some read)", res.UnreadCount, want)
	}
	var all sync.WaitGroup
	for range 8 {
		all.Add(1)
		go func() {
			defer all.Done()
			api.Do("POST", "/api/notifications/read", map[string]any{"all": true}, alice.Token).Status(http.StatusOK)
		}()
	}
	all.Wait()
	api.Do("GET", "/api/notifications/unread-count", nil, alice.Token).Status(http.StatusOK).Decode(&res)
	if res.UnreadCount != 0 {
		t.Fatalf("unreadCount %d after everything was read", res.UnreadCount)
	}
}

func TestConcurrentLikeAndUnlikeLeaveOneNotificationPerLiker(t *testing.T) {
	api := apitest.New(t, db)
	owner := api.NewUser("owner")
	video := postVideo(api, owner, "contested")
	likers := make([]*apitest.User, 20)
	for i := range likers {
		likers[i] = api.NewUser("liker")
	}
	// 100 requests at once: each liker likes and unlikes five times in a random order.
	var wg sync.WaitGroup
	for i, u := range likers {
		for j := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				method := "POST"
				if (i+j)%2 == 1 {
					method = "DELETE"
				}
				res := api.Do(method, path("/api/videos/%d/like", video.ID), nil, u.Token)
				if res.Code != http.StatusOK {
					t.Errorf("%s like: %d %s", method, res.Code, res.Body)
				}
			}()
		}
	}
	wg.Wait()
	var likes, notes []int32
	testdb.MustScan(t, db, &likes, `SELECT user_id FROM video_likes WHERE video_id = ? ORDER BY user_id`, video.ID)
	testdb.MustScan(t, db, &notes, `SELECT actor_id FROM notifications WHERE video_id = ? AND type = 'like' AND user_id = ? ORDER BY actor_id`, video.ID, owner.ID)
	if fmt.Sprint(likes) != fmt.Sprint(notes) {
		t.Fatalf("likers %v, notified for %v: want one notification per liker who ended liking", likes, notes)
	}
	testdb.AssertCountersExact(t, db)
}
