// Package store holds every query the API runs, as methods on small structs (Users, Videos,
// Comments, Likes, Follows, Sessions, Files) that hold the *gorm.DB. Methods take
// (ctx, viewer, args) and return models, the view structs of API.md's shapes (views.go) and
// the error kinds of package errs; nothing here knows Gin or HTTP.
//
// The viewer is the id of the authenticated caller, 0 for an anonymous one: it fills the
// viewer fields (isLiked, isFollowing, the e-mail of one's own profile) from one place each
// (viewer.go). Every list is a keyset page built by fetchPage (page.go). PostgreSQL's errors
// become kinds in one function, translate (errors.go).
//
// GORM's builder is used where it says the same thing as SQL in fewer words: inserting a
// model (Create), reading one by its key, updating named columns, the user search. Raw SQL is
// used where PostgreSQL itself is the point and the builder would hide it or cannot say it:
// keyset pages with row comparisons, the LATERAL join of the following feed, locking reads in
// a fixed order (FOR UPDATE / FOR SHARE), set operations with ON CONFLICT DO NOTHING, and
// UPDATE ... RETURNING. The feed rows are scanned by position (scanVideos), not by GORM's
// reflective struct scan, which was a third of the feed's CPU in a profile. Raw statements
// read their rows with Find, not Scan: GORM's Scan hands the statement to a recorder that
// formats its SQL with every value (logger.ExplainSQL) whether or not anything logs it, 7% of
// a like's server CPU (docs/performance.md, "Issue 15, third round").
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Store is the whole data layer on one database handle (and, with read replicas, a second one
// for the reads that may be a moment stale: see NewWithReads).
type Store struct {
	db    *gorm.DB
	media MediaURLs
	// trending is the trending tags as last computed, shared by every store made from this
	// one (hashtags.go).
	trending *trendingCache
	// trigrams is the users' trigram frequencies the typo tier reads (search_trigrams.go),
	// shared like trending.
	trigrams *trigramCache
	// announcer announces the set statements' notifications after their commits, shared like
	// trending (announcer.go).
	announcer *announcer

	Users    *Users
	Follows  *Follows
	Videos   *Videos
	Comments *Comments
	Likes    *Likes
	Sessions *Sessions
	Files    *Files
	Uploads  *Uploads
	// Hashtags: tag pages and trending tags (hashtags.go).
	Hashtags *Hashtags
	Search   *Search
	// Notifications: a user's notifications and the stream tickets (notifications.go).
	Notifications *Notifications
}

// Option changes how a store renders what it reads.
type Option func(*Store)

// WithMediaURLs renders the URLs of stored files with m (views.go): without it they are
// rendered as rows keep them.
func WithMediaURLs(m MediaURLs) Option {
	return func(s *Store) { s.media = m }
}

// WithTrendingTTL sets how long the trending tags are served from memory before they are
// computed again (DefaultTrendingTTL; 0 computes them on every request).
func WithTrendingTTL(d time.Duration) Option {
	return func(s *Store) { s.trending.ttl = d }
}

// New returns the store on db: every query runs there.
func New(db *gorm.DB, opts ...Option) *Store { return NewWithReads(db, db, opts...) }

// NewWithReads returns the store on db whose stale-tolerant reads run on reads instead (with
// read replicas, database.Replicas.DB: a healthy replica, else the primary). Those reads opt
// in one by one, and are only: the feeds (latest, trending, following), another user's
// profile, the lists (followers, following, likers, comments, a user's videos and liked
// videos), the user search and GET /api/search (search.go). Everything else stays on db: writes, transactions and every
// read inside them (Transact hands out a store whose reads are the transaction's), auth (a
// lagging replica must never accept a revoked token), and the answers that must show the
// caller's own write (the like's count, the profile or video after its edit or upload, one's
// own profile).
func NewWithReads(db, reads *gorm.DB, opts ...Option) *Store {
	s := &Store{trending: &trendingCache{ttl: DefaultTrendingTTL}, trigrams: &trigramCache{}, announcer: newAnnouncer(db)}
	for _, o := range opts {
		o(s)
	}
	return s.on(db, reads)
}

// on is a store with s's options on db, its stale-tolerant reads on reads (in a transaction
// both are the transaction's handle).
func (s *Store) on(db, reads *gorm.DB) *Store {
	m := s.media
	return &Store{db: db, media: m, trending: s.trending, trigrams: s.trigrams, announcer: s.announcer,
		Users: &Users{db: db, reads: reads, media: m}, Follows: &Follows{db: db, reads: reads, media: m, announcer: s.announcer},
		Videos: &Videos{db: db, reads: reads, media: m}, Comments: &Comments{db: db, reads: reads, media: m, announcer: s.announcer},
		Likes: &Likes{db: db, reads: reads, media: m, announcer: s.announcer}, Sessions: &Sessions{db: db},
		Files: &Files{db: db}, Uploads: &Uploads{db: db},
		Hashtags: &Hashtags{db: db, reads: reads, media: m, trending: s.trending},
		Search:   &Search{db: db, reads: reads, media: m, trigrams: s.trigrams},
		// Always the primary's: a notification the stream announces must be readable at once.
		Notifications: &Notifications{db: db, media: m}}
}

// Transact runs fn with a store whose every query runs in one transaction: committed when fn
// returns nil, rolled back otherwise. A transaction PostgreSQL aborts for a deadlock or a
// serialization failure is run again (three attempts in all): both say "run me again", and a
// client should not see an error for a race it cannot control. fn must therefore be safe to
// run more than once.
func (s *Store) Transact(ctx context.Context, fn func(tx *Store) error) error {
	return translate(transact(ctx, s.db, func(tx *gorm.DB) error { return fn(s.on(tx, tx)) }))
}

// transact is Transact for the store's own multi-statement methods. Called inside a
// transaction already (a method of the store Transact hands out), it runs fn once in a
// savepoint: an aborted transaction can only be retried whole, by the outer Transact.
func transact(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	if inTransaction(db) {
		return db.WithContext(ctx).Transaction(fn)
	}
	return retried(ctx, func() error { return db.WithContext(ctx).Transaction(fn) })
}

// inTransaction reports whether db is a caller's transaction (a store Transact handed out).
func inTransaction(db *gorm.DB) bool {
	_, inTx := db.Statement.ConnPool.(gorm.TxCommitter)
	return inTx
}

// retriedStatement runs one statement of the store's with retries as transact does (once in a
// caller's transaction, where only the outer Transact can retry).
func retriedStatement(ctx context.Context, db *gorm.DB, run func(db *gorm.DB) error) error {
	if inTransaction(db) {
		return run(db.WithContext(ctx))
	}
	return retried(ctx, func() error { return run(db.WithContext(ctx)) })
}

// retried runs run (a transaction, or one statement outside any) up to three times while it
// fails with a deadlock or a serialization failure, as transact does.
func retried(ctx context.Context, run func() error) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = run()
		if !isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*10) * time.Millisecond):
		}
	}
	return err
}

// isRetryable reports a deadlock (40P01) or a serialization failure (40001).
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// Ping checks that the database answers (the readiness probe).
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return translate(err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}
