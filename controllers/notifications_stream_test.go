package controllers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tiktok/config"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

// sseEvent is one Server-Sent Event, or a comment line (Comment set).
type sseEvent struct {
	ID, Event, Data, Comment string
}

// sseClient reads a stream's events as they come.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream opens GET /api/notifications/stream on server with a ticket (or a token) and an
// optional Last-Event-ID; it fails the test unless the answer is 200 text/event-stream.
func openStream(t *testing.T, server *httptest.Server, ticket, token, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := server.URL + "/api/notifications/stream"
	if ticket != "" {
		url += "?ticket=" + ticket
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := server.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{t: t, resp: resp, events: make(chan sseEvent, 256), cancel: cancel}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				c.events <- sseEvent{Comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.cancel()
	_ = c.resp.Body.Close()
}

// next returns the next event named name (skipping others), failing after within.
func (c *sseClient) next(name string, within time.Duration) sseEvent {
	c.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				c.t.Fatalf("stream ended while waiting for %q", name)
			}
			if ev.Event == name || (name == ":" && ev.Comment != "") {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("no %q event within %v", name, within)
		}
	}
}

// noNotification fails if a notification event arrives within d.
func (c *sseClient) noNotification(d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return
			}
			if ev.Event == "notification" {
				c.t.Fatalf("unexpected notification %s: %s", ev.ID, ev.Data)
			}
		case <-deadline:
			return
		}
	}
}

func ticketFor(api *apitest.API, u *apitest.User) string {
	api.T.Helper()
	var res struct {
		Ticket    string `json:"ticket"`
		ExpiresAt string `json:"expiresAt"`
	}
	api.Do("POST", "/api/notifications/ticket", nil, u.Token).Status(http.StatusOK).Decode(&res)
	if len(res.Ticket) < 40 || res.ExpiresAt == "" {
		api.T.Fatalf("ticket answer: %+v", res)
	}
	return res.Ticket
}

func decodeNotification(t *testing.T, ev sseEvent) notificationJSON {
	t.Helper()
	var n notificationJSON
	if err := json.Unmarshal([]byte(ev.Data), &n); err != nil {
		t.Fatalf("notification event %q: %v", ev.Data, err)
	}
	if ev.ID == "" || ev.ID != apitest.ID(n.ID) {
		t.Fatalf("event id %q, notification id %d", ev.ID, n.ID)
	}
	return n
}

func TestStreamDeliversALikeMadeThroughAnotherInstanceAndReplaysAfterReconnect(t *testing.T) {
	// Two routers on one database, each with its own listener: the like goes through B, the
	// stream is held by A, so only PostgreSQL's NOTIFY can carry it.
	a, b := apitest.New(t, db), apitest.New(t, db)
	serverA := httptest.NewServer(a.Router)
	t.Cleanup(serverA.Close)
	alice, bob, carol := a.NewUser("alice"), a.NewUser("bob"), a.NewUser("carol")
	video := postVideo(b, alice, "streamed")

	stream := openStream(t, serverA, ticketFor(a, alice), "", "")
	var unread struct {
		UnreadCount int64 `json:"unreadCount"`
	}
	if err := json.Unmarshal([]byte(stream.next("unread", time.Second).Data), &unread); err != nil || unread.UnreadCount != 0 {
		t.Fatalf("first unread event: %+v %v", unread, err)
	}
	b.Do("POST", path("/api/videos/%d/like", video.ID), nil, bob.Token).Status(http.StatusOK)
	n := decodeNotification(t, stream.next("notification", time.Second))
	if n.Type != "like" || n.Actor.ID != bob.ID || n.Video == nil || n.Video.ID != video.ID {
		t.Fatalf("streamed notification: %+v", n)
	}
	if err := json.Unmarshal([]byte(stream.next("unread", time.Second).Data), &unread); err != nil || unread.UnreadCount != 1 {
		t.Fatalf("unread after the like: %+v %v", unread, err)
	}
	// Someone else's notification never reaches alice's stream.
	b.Do("POST", path("/api/users/%d/follow", bob.ID), nil, carol.Token).Status(http.StatusOK)
	stream.noNotification(200 * time.Millisecond)
	stream.close()

	// Missed while disconnected; replayed first, in order, on reconnect with Last-Event-ID.
	b.Do("POST", path("/api/users/%d/follow", alice.ID), nil, carol.Token).Status(http.StatusOK)
	b.Do("POST", path("/api/videos/%d/like", video.ID), nil, carol.Token).Status(http.StatusOK)
	again := openStream(t, serverA, ticketFor(a, alice), "", apitest.ID(n.ID))
	first := decodeNotification(t, again.next("notification", time.Second))
	second := decodeNotification(t, again.next("notification", time.Second))
	if first.Type != "follow" || second.Type != "like" || second.Actor.ID != carol.ID || first.ID >= second.ID {
		t.Fatalf("replay: %+v then %+v", first, second)
	}
	again.next("unread", time.Second)
	again.noNotification(200 * time.Millisecond)
	// The access token in the Authorization header opens a stream too.
	byHeader := openStream(t, serverA, "", alice.Token, "")
	byHeader.next("unread", time.Second)
}

func TestStreamRefusesMissingReusedAndExpiredTickets(t *testing.T) {
	api := apitest.New(t, db)
	server := httptest.NewServer(api.Router)
	t.Cleanup(server.Close)
	alice := api.NewUser("alice")

	api.Do("GET", "/api/notifications/stream", nil, "").Error(http.StatusUnauthorized, "token_missing")
	api.Do("GET", "/api/notifications/stream?ticket=not-a-ticket", nil, "").Error(http.StatusUnauthorized, "token_invalid")
	api.Do("GET", "/api/notifications/stream", nil, "bad.token.here").Error(http.StatusUnauthorized, "token_invalid")
	api.Do("POST", "/api/notifications/ticket", nil, "").Error(http.StatusUnauthorized, "token_missing")

	ticket := ticketFor(api, alice)
	if n := countOf(t, `SELECT count(*) FROM notification_tickets WHERE ticket_hash = ?`, ticket); n != 0 {
		t.Fatal("the ticket is stored as it was given, not hashed")
	}
	s := openStream(t, server, ticket, "", "")
	s.next("unread", time.Second)
	api.Do("GET", "/api/notifications/stream?ticket="+ticket, nil, "").Error(http.StatusUnauthorized, "token_invalid")

	expired := ticketFor(api, alice)
	testdb.MustRun(t, db, `UPDATE notification_tickets SET expires_at = now() - interval '1 second' WHERE user_id = ?`, alice.ID)
	api.Do("GET", "/api/notifications/stream?ticket="+expired, nil, "").Error(http.StatusUnauthorized, "token_invalid")
	api.Do("GET", "/api/notifications/stream", nil, alice.Token, "Last-Event-ID: abc").Error(http.StatusBadRequest, "validation_failed")
}

func TestStreamHeartbeatsAndEndsOnShutdown(t *testing.T) {
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.NotifyHeartbeat = 50 * time.Millisecond }))
	server := httptest.NewServer(api.Router)
	t.Cleanup(server.Close)
	alice := api.NewUser("alice")
	s := openStream(t, server, "", alice.Token, "")
	if ev := s.next(":", time.Second); ev.Comment != "heartbeat" {
		t.Fatalf("comment line %q", ev.Comment)
	}
	// Shutdown closes the hub (main registers it with the server's shutdown): the stream ends.
	api.Notifications.Close()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				if n := api.Notifications.Streams(); n != 0 {
					t.Fatalf("%d streams still subscribed", n)
				}
				return
			}
		case <-deadline:
			t.Fatal("the stream did not end on shutdown")
		}
	}
}

func TestStreamCatchesUpOnceAfterTheListenerReconnects(t *testing.T) {
	a, b := apitest.New(t, db), apitest.New(t, db)
	server := httptest.NewServer(a.Router)
	t.Cleanup(server.Close)
	alice, bob, carol := a.NewUser("alice"), a.NewUser("bob"), a.NewUser("carol")
	video := postVideo(b, alice, "flaky")
	s := openStream(t, server, "", alice.Token, "")
	s.next("unread", time.Second)

	// Cut the listening connection, then like at once: the NOTIFY may well go unheard, and the
	// catch-up after the reconnect must bring it, once.
	pid := a.Notifications.ListenerPID()
	if pid == 0 {
		t.Fatal("no listening connection")
	}
	testdb.MustRun(t, db, `SELECT pg_terminate_backend(?)`, pid)
	b.Do("POST", path("/api/videos/%d/like", video.ID), nil, bob.Token).Status(http.StatusOK)
	n := decodeNotification(t, s.next("notification", 5*time.Second))
	if n.Actor.ID != bob.ID {
		t.Fatalf("caught up %+v", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Notifications.Reconnects() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a.Notifications.Reconnects() == 0 {
		t.Fatal("the listener did not reconnect")
	}
	// Live again, and the catch-up sent nothing twice.
	b.Do("POST", path("/api/videos/%d/like", video.ID), nil, carol.Token).Status(http.StatusOK)
	next := decodeNotification(t, s.next("notification", 2*time.Second))
	if next.Actor.ID != carol.ID {
		t.Fatalf("after the reconnect: %+v (a repeat of %d?)", next, n.ID)
	}
	s.noNotification(200 * time.Millisecond)
}
