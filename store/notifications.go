package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"gorm.io/gorm"

	"tiktok/errs"
	"tiktok/mention"
	"tiktok/models"
)

// Notifications reads a user's notifications and keeps the stream tickets (API.md,
// "Notifications"). The rows themselves are written by the actions that cause them, in their
// own transactions: likes.go, follows.go, comments.go and videos.go call the helpers below.
// Every read here is the recipient's own and runs on the primary: a notification the stream
// announced must be readable at once.
type Notifications struct {
	db    *gorm.DB
	media MediaURLs
}

// TicketTTL is how long a stream ticket stays valid (API.md: 60 s).
const TicketTTL = 60 * time.Second

// NotificationVideo is the video a notification is about.
type NotificationVideo struct {
	ID           int32   `json:"id"`
	ThumbnailURL *string `json:"thumbnailUrl"`
	Caption      *string `json:"caption"`
}

// NotificationComment is the comment a notification is about.
type NotificationComment struct {
	ID      int32  `json:"id"`
	Content string `json:"content"`
}

// NotificationView is the Notification shape of API.md.
type NotificationView struct {
	ID        int32                `json:"id"`
	Type      string               `json:"type"`
	Actor     UserSummary          `json:"actor"`
	Video     *NotificationVideo   `json:"video"`
	Comment   *NotificationComment `json:"comment"`
	CreatedAt Timestamp            `json:"createdAt"`
	Read      bool                 `json:"read"`
}

// NotificationTypes are the values of ?type= (and of the type column).
var NotificationTypes = []string{models.NotifyLike, models.NotifyComment, models.NotifyReply,
	models.NotifyCommentLike, models.NotifyFollow, models.NotifyMention}

const notificationColumns = `n.id, n.type, n.created_at, n.read_at,
	n.actor_id, a.username AS actor_username, a.name AS actor_name, a.avatar AS actor_avatar,
	n.video_id, v.thumbnail_url AS video_thumbnail_url, v.caption AS video_caption,
	n.comment_id, c.content AS comment_content`

// notificationColumnsFollowed is notificationColumns with whether the recipient (the one
// argument) follows each actor (one index probe of follows_pkey per row), so a page needs no
// second statement for isFollowing.
const notificationColumnsFollowed = notificationColumns + `, EXISTS (SELECT 1 FROM follows f
	WHERE f.follower_id = ? AND f.following_id = n.actor_id) AS actor_followed`

// unreadColumn is the recipient's (the one argument) unread count as a column of the
// statement: an uncorrelated subquery, computed once (an InitPlan), not per row.
const unreadColumn = `, (SELECT count(*) FROM notifications u WHERE u.user_id = ? AND u.read_at IS NULL) AS unread_count`

const notificationsFrom = `notifications n JOIN users a ON a.id = n.actor_id
	LEFT JOIN videos v ON v.id = n.video_id LEFT JOIN comments c ON c.id = n.comment_id`

type notificationRow struct {
	ID                int32      `gorm:"column:id"`
	Type              string     `gorm:"column:type"`
	CreatedAt         time.Time  `gorm:"column:created_at"`
	ReadAt            *time.Time `gorm:"column:read_at"`
	ActorID           int32      `gorm:"column:actor_id"`
	ActorUsername     string     `gorm:"column:actor_username"`
	ActorName         *string    `gorm:"column:actor_name"`
	ActorAvatar       *string    `gorm:"column:actor_avatar"`
	VideoID           *int32     `gorm:"column:video_id"`
	VideoThumbnailURL *string    `gorm:"column:video_thumbnail_url"`
	VideoCaption      *string    `gorm:"column:video_caption"`
	CommentID         *int32     `gorm:"column:comment_id"`
	CommentContent    *string    `gorm:"column:comment_content"`
	ActorFollowed     bool       `gorm:"column:actor_followed"`
	// UnreadCount is set by the list's statement only (unreadColumn).
	UnreadCount int64 `gorm:"column:unread_count"`
}

// notificationViews shapes rows for their recipient viewer. isFollowing of each actor ("follow
// back") comes with the rows (the actor_followed column of notificationColumnsFor).
func notificationViews(media MediaURLs, rows []notificationRow) []NotificationView {
	out := make([]NotificationView, len(rows))
	for i, r := range rows {
		followed := r.ActorFollowed
		v := NotificationView{ID: r.ID, Type: r.Type, CreatedAt: Timestamp(r.CreatedAt), Read: r.ReadAt != nil,
			Actor: UserSummary{ID: r.ActorID, Username: r.ActorUsername, Name: r.ActorName,
				Avatar: media.publicPtr(r.ActorAvatar), IsFollowing: &followed}}
		if r.VideoID != nil {
			v.Video = &NotificationVideo{ID: *r.VideoID, ThumbnailURL: media.publicPtr(r.VideoThumbnailURL), Caption: r.VideoCaption}
		}
		if r.CommentID != nil && r.CommentContent != nil {
			v.Comment = &NotificationComment{ID: *r.CommentID, Content: *r.CommentContent}
		}
		out[i] = v
	}
	return out
}

// NotificationPage is a page of notifications with the recipient's unread count.
type NotificationPage struct {
	Page[NotificationView]
	UnreadCount int64
}

// List is a page of viewer's notifications, newest first, of one type when kind is not "", with
// viewer's unread count. It is one statement whatever the page size (the page, the actors'
// isFollowing and the unread count together), two when the page is empty (the count alone) or
// with a bare numeric cursor (its position).
func (s *Notifications) List(ctx context.Context, viewer int32, kind string, req PageRequest) (NotificationPage, error) {
	where, args := "n.user_id = ?", []any{viewer}
	if kind != "" {
		where, args = where+" AND n.type = ?", append(args, kind)
	}
	spec := listSpec{
		keys:    keyset{first: "n.created_at", second: "n.id"},
		columns: notificationColumnsFollowed + unreadColumn, columnArgs: []any{viewer, viewer},
		from: notificationsFrom, countFrom: "notifications n",
		where: where, args: args,
		resolve: func(ctx context.Context, id int32) (position, bool, error) {
			var at []time.Time
			err := s.db.WithContext(ctx).Raw(`SELECT n.created_at FROM notifications n WHERE n.id = ? AND `+where,
				append([]any{id}, args...)...).Find(&at).Error
			if err != nil || len(at) == 0 {
				return position{}, false, err
			}
			return position{At: at[0], ID: id}, true, nil
		},
	}
	page, err := fetchPage(ctx, s.db, spec, req, scanInto[notificationRow], func(r *notificationRow) position {
		return position{At: r.CreatedAt, ID: r.ID}
	})
	if err != nil {
		return NotificationPage{}, translate(err)
	}
	var unread int64
	if len(page.Items) > 0 {
		unread = page.Items[0].UnreadCount
	} else if unread, err = s.UnreadCount(ctx, viewer); err != nil {
		return NotificationPage{}, err
	}
	return NotificationPage{Page: withItems(page, notificationViews(s.media, page.Items)), UnreadCount: unread}, nil
}

// UnreadCount is how many of viewer's notifications are unread: counted from the rows (an
// index-only count over the partial index of unread rows), so it is exact at every moment.
func (s *Notifications) UnreadCount(ctx context.Context, viewer int32) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(`SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, viewer).Find(&n).Error
	return n, translate(err)
}

// MarkRead marks viewer's notifications ids read (ids of other users' notifications match no
// row and are ignored), or every one of them when all is true, and returns the unread count.
func (s *Notifications) MarkRead(ctx context.Context, viewer int32, ids []int32, all bool) (int64, error) {
	now := time.Now().UTC()
	var err error
	switch {
	case all:
		err = s.db.WithContext(ctx).Exec(`UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, now, viewer).Error
	case len(ids) > 0:
		err = s.db.WithContext(ctx).Exec(`UPDATE notifications SET read_at = ? WHERE user_id = ? AND id IN ? AND read_at IS NULL`, now, viewer, ids).Error
	}
	if err != nil {
		return 0, translate(err)
	}
	return s.UnreadCount(ctx, viewer)
}

// Get is viewer's notification id with viewer's unread count, in one statement (what a stream
// sends for each new notification); ok is false when it does not exist (any more: its action
// was undone) or is someone else's, and the count is then read alone.
func (s *Notifications) Get(ctx context.Context, viewer, id int32) (view NotificationView, unread int64, ok bool, err error) {
	var rows []notificationRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+notificationColumnsFollowed+unreadColumn+` FROM `+notificationsFrom+
		` WHERE n.id = ? AND n.user_id = ?`, viewer, viewer, id, viewer).Find(&rows).Error; err != nil {
		return NotificationView{}, 0, false, translate(err)
	}
	if len(rows) == 0 {
		unread, err = s.UnreadCount(ctx, viewer)
		return NotificationView{}, unread, false, err
	}
	return notificationViews(s.media, rows)[0], rows[0].UnreadCount, true, nil
}

// After is viewer's notifications with an id above after, oldest first, at most limit: what a
// stream missed (Last-Event-ID) or may have missed (its instance's listener reconnected).
func (s *Notifications) After(ctx context.Context, viewer, after int32, limit int) ([]NotificationView, error) {
	var rows []notificationRow
	if err := s.db.WithContext(ctx).Raw(`SELECT `+notificationColumnsFollowed+` FROM `+notificationsFrom+
		` WHERE n.user_id = ? AND n.id > ? ORDER BY n.id LIMIT ?`, viewer, viewer, after, limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return notificationViews(s.media, rows), nil
}

// LatestID is the id of viewer's newest notification (0 when none): where a new stream without
// Last-Event-ID starts.
func (s *Notifications) LatestID(ctx context.Context, viewer int32) (int32, error) {
	var id int32
	err := s.db.WithContext(ctx).Raw(`SELECT COALESCE(max(id), 0) FROM notifications WHERE user_id = ?`, viewer).Find(&id).Error
	return id, translate(err)
}

// NewTicket makes a single-use stream ticket for viewer, valid for TicketTTL. Only its SHA-256
// is stored; expired tickets are swept here, so the table holds about a minute of them.
func (s *Notifications) NewTicket(ctx context.Context, viewer int32) (ticket string, expiresAt time.Time, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, errs.Internal(err)
	}
	ticket = base64.RawURLEncoding.EncodeToString(raw)
	err = transact(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM notification_tickets WHERE expires_at < now()`).Error; err != nil {
			return err
		}
		// The database's clock decides expiry, so every instance agrees on it.
		return tx.Raw(`INSERT INTO notification_tickets (ticket_hash, user_id, expires_at)
			VALUES (?, ?, now() + make_interval(secs => ?)) RETURNING expires_at`,
			hashTicket(ticket), viewer, TicketTTL.Seconds()).Find(&expiresAt).Error
	})
	if err != nil {
		return "", time.Time{}, translate(err)
	}
	return ticket, expiresAt.UTC(), nil
}

// errBadTicket answers a missing, unknown, spent or expired ticket alike.
var errBadTicket = errs.Unauthorized(errs.CodeTokenInvalid, "Stream ticket is invalid, used or expired")

// UseTicket spends ticket and returns its user. One DELETE ... RETURNING does it, so of two
// instances presenting the same ticket at once exactly one gets the user; an expired ticket is
// removed too, and refused.
func (s *Notifications) UseTicket(ctx context.Context, ticket string) (int32, error) {
	var rows []struct {
		UserID int32 `gorm:"column:user_id"`
		Valid  bool  `gorm:"column:valid"`
	}
	if err := s.db.WithContext(ctx).Raw(`DELETE FROM notification_tickets WHERE ticket_hash = ?
		RETURNING user_id, expires_at > now() AS valid`, hashTicket(ticket)).Find(&rows).Error; err != nil {
		return 0, translate(err)
	}
	if len(rows) == 0 || !rows[0].Valid {
		return 0, errBadTicket
	}
	return rows[0].UserID, nil
}

func hashTicket(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(sum[:])
}

// --- writing notifications, inside the transaction of their action ----------------------------

// syncMentions makes the mention notifications of text (a caption when commentID is nil, else
// a comment's content) by actor: one per mentioned user who exists, at most mention.Max, never
// to the actor nor to the users in skip (already told of this comment as its video's owner or
// the author it answers). With edit, mentions the new text no longer has are removed and the
// ones it keeps stay as they were (read or not): an edit notifies only the newly mentioned.
func syncMentions(tx *gorm.DB, actor, videoID int32, commentID *int32, text *string, skip []int32, edit bool) error {
	var names []string
	if text != nil {
		names = mention.Parse(*text)
	}
	target := "comment_id IS NULL"
	args := []any{actor, videoID}
	if commentID != nil {
		target, args = "comment_id = ?", append(args, *commentID)
	}
	if edit {
		del := `DELETE FROM notifications WHERE actor_id = ? AND type = 'mention' AND video_id = ? AND ` + target
		delArgs := args
		if len(names) > 0 {
			del += ` AND user_id NOT IN (SELECT id FROM users WHERE lower(username) IN ?)`
			delArgs = append(delArgs, names)
		}
		if err := tx.Exec(del, delArgs...).Error; err != nil {
			return err
		}
	}
	if len(names) == 0 {
		return nil
	}
	skip = append(skip, actor)
	return tx.Exec(`INSERT INTO notifications (user_id, actor_id, type, video_id, comment_id)
		SELECT id, ?, 'mention', ?, ? FROM users WHERE lower(username) IN ? AND id NOT IN ?
		ON CONFLICT DO NOTHING`, actor, videoID, commentID, names, skip).Error
}
