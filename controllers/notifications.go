package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/middleware"
	"tiktok/notify"
	"tiktok/store"
)

// Notifications serves a user's notifications and their live stream (API.md, "Notifications";
// the Prisma version has none).
type Notifications struct {
	Store *store.Store
	// Hub is this instance's listener of new notifications (package notify).
	Hub *notify.Hub
	// Heartbeat is the interval of the stream's comment lines (NOTIFY_HEARTBEAT).
	Heartbeat time.Duration
}

// maxReadIDs bounds the ids of one mark-read request.
const maxReadIDs = 500

// listenWait is how long a new stream waits for this instance's listener to be up.
const listenWait = 5 * time.Second

// replayBatch is how many missed notifications the stream reads from the database at a time.
const replayBatch = 100

type notificationPage struct {
	Notifications []store.NotificationView `json:"notifications"`
	Pagination    Pagination               `json:"pagination"`
	UnreadCount   int64                    `json:"unreadCount"`
}

// List answers GET /api/notifications: newest first, by cursor, ?type= one of the types.
func (n *Notifications) List(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	req, err := cursorPage(c)
	if err != nil {
		return err
	}
	kind := c.Query("type")
	if kind != "" && !slices.Contains(store.NotificationTypes, kind) {
		return errs.InvalidField("type", "must be one of "+strings.Join(store.NotificationTypes, ", "))
	}
	page, err := n.Store.Notifications.List(c.Request.Context(), viewer, kind, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, notificationPage{Notifications: page.Items, Pagination: pagination(page.Page), UnreadCount: page.UnreadCount})
	return nil
}

// UnreadCount answers GET /api/notifications/unread-count.
func (n *Notifications) UnreadCount(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	count, err := n.Store.Notifications.UnreadCount(c.Request.Context(), viewer)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"unreadCount": count})
	return nil
}

// MarkRead answers POST /api/notifications/read: {ids: [..]} (numbers; the viewer's own,
// others' are ignored) or {all: true}.
func (n *Notifications) MarkRead(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	var in struct {
		IDs *[]json.RawMessage `json:"ids"`
		All *bool              `json:"all"`
	}
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	all := in.All != nil && *in.All
	var ids []int32
	switch {
	case in.IDs != nil:
		if len(*in.IDs) > maxReadIDs {
			return errs.InvalidField("ids", fmt.Sprintf("may hold at most %d ids", maxReadIDs))
		}
		for _, raw := range *in.IDs {
			id, ok := positiveInt32(raw)
			if !ok {
				return errs.InvalidField("ids", "must be a list of notification ids (positive whole numbers)")
			}
			ids = append(ids, id)
		}
	case !all:
		return errs.InvalidField("ids", `is required (or send {"all": true})`)
	}
	count, err := n.Store.Notifications.MarkRead(c.Request.Context(), viewer, ids, all)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"unreadCount": count})
	return nil
}

// positiveInt32 reads a JSON number that is a whole number from 1 to 2^31-1 (not a string,
// not 1.5, not 1e3).
func positiveInt32(raw json.RawMessage) (int32, bool) {
	s := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return 0, false
	}
	return int32(n), true
}

// Ticket answers POST /api/notifications/ticket: a single-use ticket, valid 60 s, that opens
// the stream (EventSource cannot send an Authorization header, and the access token never goes
// in a URL).
func (n *Notifications) Ticket(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	ticket, expires, err := n.Store.Notifications.NewTicket(c.Request.Context(), viewer)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"ticket": ticket, "expiresAt": store.Timestamp(expires)})
	return nil
}

// StreamAuth is the stream's authentication: a ?ticket= is checked by Stream itself (spent
// there, atomically); without one, the Authorization header must be valid (required).
func StreamAuth(required gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Query("ticket") != "" {
			c.Next()
			return
		}
		required(c)
	}
}

// Stream answers GET /api/notifications/stream with Server-Sent Events: first the
// notifications after Last-Event-ID (if sent), then `event: unread`, then each new notification
// as it is committed (on any instance) followed by the new unread count, and a comment line
// every Heartbeat. Every refusal (no, bad, spent or expired ticket or token) is a JSON 401
// before the stream starts. The stream ends when the client goes, when this instance shuts
// down, or when the client is too slow to keep up (it reconnects with Last-Event-ID).
func (n *Notifications) Stream(c *gin.Context) error {
	ctx := c.Request.Context()
	viewer := middleware.Viewer(c)
	if ticket := c.Query("ticket"); ticket != "" {
		id, err := n.Store.Notifications.UseTicket(ctx, ticket)
		if err != nil {
			return err
		}
		viewer = id
	}
	if viewer == 0 {
		return errs.Unauthorized(errs.CodeTokenMissing, "A stream ticket or an access token is required")
	}
	var last int32
	if h := strings.TrimSpace(c.GetHeader("Last-Event-ID")); h != "" {
		id, ok := positiveInt32(json.RawMessage(h))
		if !ok {
			return errs.InvalidField("Last-Event-ID", "must be the id of a notification event")
		}
		last = id
	}
	// Subscribe before reading the backlog, so nothing committed in between is lost; what
	// arrives twice (in the backlog and live) is sent once.
	sub, err := n.Hub.Subscribe(viewer)
	if err != nil {
		return errs.Unavailable("The server is shutting down", err)
	}
	defer sub.Close()
	// The backlog is read once this instance listens: whatever commits later is heard.
	select {
	case <-n.Hub.Listening():
	case <-ctx.Done():
		return nil
	case <-time.After(listenWait):
		return errs.Unavailable("Notifications are not available right now", errors.New("notification listener not up"))
	}

	// A stream outlives the server's read and write timeouts (10 minutes in main): clear them
	// for this connection, or the stream would be cut when they pass (net/http cancels the
	// request when its background read of the idle connection times out).
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
	s := &sseWriter{w: c.Writer, sent: newSentSet(), last: last}
	s.printf("retry: 3000\n\n")

	catchUp := func() bool {
		for {
			missed, err := n.Store.Notifications.After(ctx, viewer, s.last, replayBatch)
			if err != nil {
				return false
			}
			for _, m := range missed {
				s.notification(m)
			}
			if len(missed) < replayBatch {
				return true
			}
		}
	}
	sendUnread := func(count int64) { s.event("unread", "", map[string]int64{"unreadCount": count}) }
	unread := func() bool {
		count, err := n.Store.Notifications.UnreadCount(ctx, viewer)
		if err != nil {
			return false
		}
		sendUnread(count)
		return true
	}
	if last > 0 {
		if !catchUp() {
			return nil
		}
	} else if s.last, err = n.Store.Notifications.LatestID(ctx, viewer); err != nil {
		// A catch-up after the listener reconnects starts after what exists now, not at the
		// beginning of the user's history.
		return nil
	}
	if !unread() || !s.flush() {
		return nil
	}

	heartbeat := n.Heartbeat
	if heartbeat <= 0 {
		heartbeat = 25 * time.Second
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, open := <-sub.C:
			if !open {
				return nil // shutting down, or dropped as too slow: the client reconnects
			}
			switch {
			case ev.Resync:
				if !catchUp() || !unread() {
					return nil
				}
			case s.sent.has(ev.ID):
				continue
			default:
				// The row and the unread count in one statement.
				view, count, ok, err := n.Store.Notifications.Get(ctx, viewer, ev.ID)
				if err != nil {
					return nil
				}
				if !ok {
					continue // undone before we read it
				}
				s.notification(view)
				sendUnread(count)
			}
			if !s.flush() {
				return nil
			}
		case <-tick.C:
			s.printf(": heartbeat\n\n")
			if !s.flush() {
				return nil
			}
		}
	}
}

// sseWriter writes events; the first write error ends the stream (flush reports it).
type sseWriter struct {
	w    gin.ResponseWriter
	err  error
	sent *sentSet
	// last is the highest notification id sent (the replay's starting point).
	last int32
}

func (s *sseWriter) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *sseWriter) event(name, id string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		s.err = err
		return
	}
	if id != "" {
		s.printf("id: %s\n", id)
	}
	s.printf("event: %s\ndata: %s\n\n", name, b)
}

func (s *sseWriter) notification(v store.NotificationView) {
	if s.sent.has(v.ID) {
		return
	}
	s.sent.add(v.ID)
	s.last = max(s.last, v.ID)
	s.event("notification", strconv.Itoa(int(v.ID)), v)
}

func (s *sseWriter) flush() bool {
	if s.err == nil {
		s.w.Flush()
	}
	return s.err == nil
}

// sentSet remembers the last ids a stream sent, so an id that arrives both live and in a
// catch-up is sent once. A small ring scanned linearly: a few hundred bytes per open stream.
type sentSet struct {
	ring [64]int32
	next int
}

func newSentSet() *sentSet { return &sentSet{} }

func (s *sentSet) has(id int32) bool {
	for _, x := range s.ring {
		if x == id {
			return true
		}
	}
	return false
}

func (s *sentSet) add(id int32) {
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
}
