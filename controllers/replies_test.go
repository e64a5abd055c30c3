package controllers_test

import (
	"net/http"
	"sync"
	"testing"

	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

type replyJSON struct {
	ID       int32  `json:"id"`
	VideoID  int32  `json:"videoId"`
	ParentID *int32 `json:"parentId"`
	ReplyTo  *struct {
		ID       int32  `json:"id"`
		Username string `json:"username"`
	} `json:"replyTo"`
	ReplyCount int32 `json:"replyCount"`
}

type replyListJSON struct {
	Comments   []replyJSON    `json:"comments"`
	Pagination paginationJSON `json:"pagination"`
}

func postReply(api *apitest.API, u *apitest.User, videoID int32, parent any, content string) replyJSON {
	api.T.Helper()
	var r replyJSON
	api.Do("POST", "/api/comments", map[string]any{"videoId": videoID, "content": content, "parentId": parent}, u.Token).
		Status(http.StatusCreated).Decode(&r)
	return r
}

func TestRepliesAreOneLevelListedOldestFirstAndCounted(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob, carol, dave := api.NewUser("alice"), api.NewUser("bob"), api.NewUser("carol"), api.NewUser("dave")
	video := postVideo(api, alice, "replies")
	top := postReply(api, bob, video.ID, nil, "top")
	if top.ParentID != nil || top.ReplyTo != nil || top.ReplyCount != 0 {
		t.Fatalf("a top-level comment: %+v", top)
	}
	r1 := postReply(api, carol, video.ID, top.ID, "first reply")
	if r1.ParentID == nil || *r1.ParentID != top.ID || r1.ReplyTo == nil || r1.ReplyTo.ID != bob.ID || r1.ReplyTo.Username != bob.Username {
		t.Fatalf("a reply to the top-level comment: %+v", r1)
	}
	// A reply to a reply sits under the same top-level comment and answers the reply's author;
	// the parent may come as a numeric string, as videoId may.
	r2 := postReply(api, dave, video.ID, apitest.ID(r1.ID), "reply to a reply")
	if r2.ParentID == nil || *r2.ParentID != top.ID || r2.ReplyTo == nil || r2.ReplyTo.ID != carol.ID {
		t.Fatalf("a reply to a reply: %+v", r2)
	}
	postComment(api, carol, video.ID, "second top")

	var list replyListJSON
	api.Do("GET", path("/api/videos/%d/comments", video.ID), nil, "").Status(http.StatusOK).Decode(&list)
	if len(list.Comments) != 2 {
		t.Fatalf("the video lists %d comments, want the 2 top-level ones", len(list.Comments))
	}
	for _, c := range list.Comments {
		if c.ParentID != nil {
			t.Fatalf("a reply in the top-level list: %+v", c)
		}
		if c.ID == top.ID && c.ReplyCount != 2 {
			t.Fatalf("replyCount %d, want 2", c.ReplyCount)
		}
	}
	var v videoJSON
	api.Do("GET", path("/api/videos/%d", video.ID), nil, "").Status(http.StatusOK).Decode(&v)
	if v.CommentCount != 4 || v.Count.Comments != 4 {
		t.Fatalf("commentCount %d, want 4 (replies count)", v.CommentCount)
	}

	// Oldest first, one per page, the cursor carrying on.
	var page1, page2 replyListJSON
	api.Do("GET", path("/api/comments/%d/replies?limit=1", top.ID), nil, "").Status(http.StatusOK).Decode(&page1)
	if len(page1.Comments) != 1 || page1.Comments[0].ID != r1.ID || !page1.Pagination.HasNextPage {
		t.Fatalf("first page of replies: %+v", page1)
	}
	api.Do("GET", path("/api/comments/%d/replies?limit=1&cursor=%s", top.ID, *page1.Pagination.NextCursor), nil, "").
		Status(http.StatusOK).Decode(&page2)
	if len(page2.Comments) != 1 || page2.Comments[0].ID != r2.ID || page2.Pagination.HasNextPage {
		t.Fatalf("second page of replies: %+v", page2)
	}
	// A bare id cursor starts after that reply.
	api.Do("GET", path("/api/comments/%d/replies?cursor=%d", top.ID, r1.ID), nil, "").Status(http.StatusOK).Decode(&page2)
	if len(page2.Comments) != 1 || page2.Comments[0].ID != r2.ID {
		t.Fatalf("replies after a bare id: %+v", page2)
	}
	var none replyListJSON
	api.Do("GET", path("/api/comments/%d/replies", r1.ID), nil, "").Status(http.StatusOK).Decode(&none)
	if len(none.Comments) != 0 {
		t.Fatalf("a reply has replies: %+v", none)
	}
	testdb.AssertCountersExact(t, db)

	// Deleting the top-level comment deletes its replies, their likes, and every notification
	// about them, with every counter exact.
	api.Do("POST", path("/api/comments/%d/like", r1.ID), nil, alice.Token).Status(http.StatusOK)
	api.Do("POST", path("/api/comments/%d/like", r2.ID), nil, bob.Token).Status(http.StatusOK)
	api.Do("DELETE", path("/api/comments/%d", top.ID), nil, bob.Token).Status(http.StatusOK)
	if n := countOf(t, `SELECT count(*) FROM comments WHERE id IN (?, ?, ?)`, top.ID, r1.ID, r2.ID); n != 0 {
		t.Fatalf("%d of the comment and its replies left", n)
	}
	if n := countOf(t, `SELECT count(*) FROM notifications WHERE comment_id IN (?, ?, ?)`, top.ID, r1.ID, r2.ID); n != 0 {
		t.Fatalf("%d notifications about deleted comments left", n)
	}
	api.Do("GET", path("/api/videos/%d", video.ID), nil, "").Status(http.StatusOK).Decode(&v)
	if v.CommentCount != 1 {
		t.Fatalf("commentCount %d after the delete, want 1", v.CommentCount)
	}
	testdb.AssertCountersExact(t, db)
}

func TestReplyBadInput(t *testing.T) {
	api := apitest.New(t, db)
	alice, bob := api.NewUser("alice"), api.NewUser("bob")
	v1, v2 := postVideo(api, alice, "one"), postVideo(api, alice, "two")
	onV2 := postComment(api, bob, v2.ID, "on the other video")

	api.Do("POST", "/api/comments", map[string]any{"videoId": v1.ID, "content": "x", "parentId": onV2.ID}, bob.Token).
		Error(http.StatusBadRequest, "validation_failed")
	api.Do("POST", "/api/comments", map[string]any{"videoId": v1.ID, "content": "x", "parentId": 2147483000}, bob.Token).
		Error(http.StatusNotFound, "not_found")
	for _, bad := range []any{"abc", 0, -1, 1.5, true, []int{1}} {
		api.Do("POST", "/api/comments", map[string]any{"videoId": v1.ID, "content": "x", "parentId": bad}, bob.Token).
			Error(http.StatusBadRequest, "validation_failed")
	}
	// null is a top-level comment (a client may send the field always).
	if r := postReply(api, bob, v1.ID, nil, "top"); r.ParentID != nil {
		t.Fatalf("parentId null made a reply: %+v", r)
	}
	api.Do("GET", "/api/comments/abc/replies", nil, "").Error(http.StatusBadRequest, "invalid_id")
	api.Do("GET", "/api/comments/2147483000/replies", nil, "").Error(http.StatusNotFound, "not_found")
	api.Do("GET", path("/api/comments/%d/replies?cursor=zzz", onV2.ID), nil, "").Error(http.StatusBadRequest, "validation_failed")
	if n := countOf(t, `SELECT count(*) FROM comments WHERE video_id = ?`, v1.ID); n != 1 {
		t.Fatalf("failed requests left %d comments, want the 1 top-level", n)
	}
}

func TestConcurrentRepliesAndDeletesKeepCountsExact(t *testing.T) {
	api := apitest.New(t, db)
	owner := api.NewUser("owner")
	video := postVideo(api, owner, "busy")
	tops := []commentJSON{postComment(api, owner, video.ID, "a"), postComment(api, owner, video.ID, "b")}
	users := make([]*apitest.User, 6)
	for i := range users {
		users[i] = api.NewUser("r")
	}
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				res := api.Do("POST", "/api/comments", map[string]any{"videoId": video.ID, "content": "r", "parentId": tops[(i+j)%2].ID}, u.Token)
				if res.Code != http.StatusCreated && res.Code != http.StatusNotFound {
					t.Errorf("reply: %d %s", res.Code, res.Body)
					return
				}
				if i == 0 && j == 2 {
					// The owner deletes one top-level comment while replies arrive.
					api.Do("DELETE", path("/api/comments/%d", tops[1].ID), nil, owner.Token).Status(http.StatusOK)
				}
			}
		}()
	}
	wg.Wait()
	if n := countOf(t, `SELECT count(*) FROM comments WHERE parent_id = ?`, tops[1].ID); n != 0 {
		t.Fatalf("%d replies to the deleted comment", n)
	}
	testdb.AssertCountersExact(t, db)
}
