package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// PostgreSQL's errors become kinds in one function (errors.go, translate); these tests reach
// it through the public methods, with errors PostgreSQL really raises.

func TestADuplicateUsernameOrEmailIsAConflictNamingTheField(t *testing.T) {
	st := store.New(db)
	name := unique("Taken")
	must(t, st.Users.Create(ctx, &models.User{Username: name, Email: name + "@Example.com", Password: "x"}))
	for _, c := range []struct {
		name, username, email, field, message string
	}{
		{"the same username", name, unique("e") + "@example.com", "username", "Username already in use"},
		{"the username in another case", strings.ToUpper(name), unique("e") + "@example.com", "username", "Username already in use"},
		{"the same e-mail", unique("u"), name + "@Example.com", "email", "Email already in use"},
		{"the e-mail in another case", unique("u"), strings.ToLower(name) + "@EXAMPLE.COM", "email", "Email already in use"},
		{"both: the e-mail's", name, name + "@example.com", "email", "Email already in use"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := st.Users.Create(ctx, &models.User{Username: c.username, Email: c.email, Password: "x"})
			e := wantKind(t, err, errs.KindConflict, c.field)
			if len(e.Fields) != 1 || e.Message != c.message {
				t.Fatalf("conflict %v: want only %q named, message %q", e, c.field, c.message)
			}
		})
	}
}

func TestWritesOnRowsThatAreGoneAreNotFound(t *testing.T) {
	st := store.New(db)
	user := newUser(t, "user").ID
	const missing = 2147483647
	for _, c := range []struct {
		name    string
		write   func() error
		message string
	}{
		{"a comment on a missing video", func() error { return errOnly(createComment(st, user, missing)) }, "Video not found"},
		{"liking a missing video", func() error {
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: user}, missing, true)
			return err
		}, "Video not found"},
		{"unliking a missing video", func() error {
			_, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: user}, missing, false)
			return err
		}, "Video not found"},
		{"liking a missing comment", func() error {
			_, err := st.Likes.Set(ctx, store.CommentLikes, store.Caller{ID: user}, missing, true)
			return err
		}, "Comment not found"},
		{"unliking a missing comment", func() error {
			_, err := st.Likes.Set(ctx, store.CommentLikes, store.Caller{ID: user}, missing, false)
			return err
		}, "Comment not found"},
		{"following a missing user", func() error {
			_, err := st.Follows.Set(ctx, store.Caller{ID: user}, missing, true)
			return err
		}, "User not found"},
		{"unfollowing a missing user", func() error {
			_, err := st.Follows.Set(ctx, store.Caller{ID: user}, missing, false)
			return err
		}, "User not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := wantKind(t, c.write(), errs.KindNotFound)
			if e.Message != c.message {
				t.Fatalf("message %q, want %q", e.Message, c.message)
			}
		})
	}
}

func TestAValuePostgreSQLRefusesIsInvalidNotInternal(t *testing.T) {
	st := store.New(db)
	user := newUser(t, "user").ID
	video := newVideo(t, user).ID
	nul := "a\x00b" // text cannot hold NUL: SQLSTATE 22021
	for _, c := range []struct {
		name  string
		write func() error
	}{
		{"a caption with a NUL byte", func() error {
			return errOnly(st.Videos.Create(ctx, &models.Video{UserID: user, VideoURL: "https://cdn.example.com/x.mp4", Caption: &nul}))
		}},
		{"a comment with a NUL byte", func() error {
			return errOnly(st.Comments.Create(ctx, store.Caller{ID: user}, &models.Comment{VideoID: video, Content: nul}))
		}},
		{"a username with a NUL byte", func() error {
			return st.Users.Create(ctx, &models.User{Username: nul + unique("u"), Email: unique("e") + "@example.com", Password: "x"})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantKind(t, c.write(), errs.KindInvalid)
		})
	}
}

// raiseOnInsert installs, for the test, a trigger that makes PostgreSQL refuse to insert a
// user whose username is "sqlstate_<code>_..." with that SQLSTATE: a way to meet any error of
// the server through the store's public methods.
func raiseOnInsert(t *testing.T) {
	t.Helper()
	fn := unique("raise_sqlstate")
	must(t, db.Exec(`CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.username LIKE 'sqlstate\_%' THEN
				RAISE EXCEPTION 'raised by a test' USING ERRCODE = split_part(NEW.username, '_', 2);
			END IF;
			RETURN NEW;
		END $$`).Error)
	must(t, db.Exec(`CREATE TRIGGER `+fn+` BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION `+fn+`()`).Error)
	t.Cleanup(func() {
		must(t, db.Exec(`DROP TRIGGER `+fn+` ON users`).Error)
		must(t, db.Exec(`DROP FUNCTION `+fn+`()`).Error)
	})
}

// userRaising is a user whose insert raises code (with raiseOnInsert).
func userRaising(code string) *models.User {
	name := unique("sqlstate_" + code)
	return &models.User{Username: name, Email: name + "@example.com", Password: "x"}
}

func TestEachSQLStateClassBecomesItsKind(t *testing.T) {
	raiseOnInsert(t)
	st := store.New(db)
	for _, c := range []struct {
		code string
		kind errs.Kind
	}{
		{"22001", errs.KindInvalid},     // string_data_right_truncation
		{"22P02", errs.KindInvalid},     // invalid_text_representation
		{"23505", errs.KindConflict},    // unique_violation
		{"08006", errs.KindUnavailable}, // connection_failure
		{"53300", errs.KindUnavailable}, // too_many_connections
		{"57P01", errs.KindUnavailable}, // admin_shutdown
		{"40001", errs.KindUnavailable}, // serialization_failure, outside Transact: not retried
		{"40P01", errs.KindUnavailable}, // deadlock_detected
		{"57014", errs.KindInternal},    // query_canceled: not an outage
		{"42P01", errs.KindInternal},    // undefined_table: a bug
		{"P0001", errs.KindInternal},    // raise_exception
	} {
		t.Run(c.code, func(t *testing.T) {
			err := st.Users.Create(ctx, userRaising(c.code))
			if err == nil {
				t.Fatal("the insert succeeded")
			}
			wantKind(t, err, c.kind)
		})
	}
}

func TestTransactRunsARaceAgainAndGivesUpAfterThreeAttempts(t *testing.T) {
	raiseOnInsert(t)
	st := store.New(db)
	for _, c := range []struct {
		name     string
		failFor  int    // attempts that fail
		code     string // their SQLSTATE, or "" for a Forbidden returned by fn
		attempts int
		kind     errs.Kind // of Transact's error; KindInternal for none
	}{
		{"a serialization failure on the first attempt is run again and commits", 1, "40001", 2, errs.KindInternal},
		{"a deadlock on the first two attempts is run again and commits", 2, "40P01", 3, errs.KindInternal},
		{"three serialization failures are unavailable", 3, "40001", 3, errs.KindUnavailable},
		{"three deadlocks are unavailable", 99, "40P01", 3, errs.KindUnavailable},
		{"a unique violation is not a race: no second attempt", 99, "23505", 1, errs.KindConflict},
		{"an error of fn is not retried and keeps its kind", 99, "", 1, errs.KindForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			kept := unique("kept")
			attempts := 0
			err := st.Transact(ctx, func(tx *store.Store) error {
				attempts++
				// A write before the failure: it must go with its attempt, or the next
				// attempt's insert of the same user would be a conflict.
				if err := tx.Users.Create(ctx, &models.User{Username: kept, Email: kept + "@example.com", Password: "x"}); err != nil {
					return err
				}
				if attempts > c.failFor {
					return nil
				}
				if c.code == "" {
					return errs.Forbidden("no")
				}
				return tx.Users.Create(ctx, userRaising(c.code))
			})
			if attempts != c.attempts {
				t.Errorf("%d attempts, want %d", attempts, c.attempts)
			}
			committed := countOf(t, `SELECT count(*) FROM users WHERE username = ?`, kept)
			if c.kind == errs.KindInternal {
				if err != nil || committed != 1 {
					t.Fatalf("error %v, %d rows of the last attempt; want it committed once", err, committed)
				}
				return
			}
			wantKind(t, err, c.kind)
			if committed != 0 {
				t.Fatalf("a failed transaction left %d rows", committed)
			}
		})
	}
}

// pool opens a second connection pool on the test database, with pgx's configuration of one
// of db's connections.
func pool(t *testing.T) *gorm.DB {
	t.Helper()
	sqlDB, err := db.DB()
	must(t, err)
	conn, err := sqlDB.Conn(ctx)
	must(t, err)
	defer conn.Close()
	var other *sql.DB
	must(t, conn.Raw(func(dc any) error {
		other = stdlib.OpenDB(*dc.(*stdlib.Conn).Conn().Config())
		return nil
	}))
	g, err := gorm.Open(postgres.New(postgres.Config{Conn: other}), &gorm.Config{Logger: logger.Discard})
	must(t, err)
	return g
}

func TestADatabaseThatCannotBeReachedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	must(t, ln.Close()) // nothing listens there now
	nowhere, err := gorm.Open(postgres.New(postgres.Config{
		DSN: "postgres://postgres@127.0.0.1:" + itoa(port) + "/none?sslmode=disable&connect_timeout=2"}),
		&gorm.Config{DisableAutomaticPing: true, Logger: logger.Discard})
	must(t, err)
	closed := pool(t)
	st := store.New(closed)
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("the second pool does not answer: %v", err)
	}
	closedDB, err := closed.DB()
	must(t, err)
	must(t, closedDB.Close())

	for name, g := range map[string]*gorm.DB{"nothing listens on the port": nowhere, "the pool is closed": closed} {
		st := store.New(g)
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"Ping", func() error { return st.Ping(ctx) }},
			{"Users.Get", func() error { _, err := st.Users.Get(ctx, 1); return err }},
			{"Videos.Latest", func() error { _, err := st.Videos.Latest(ctx, 0, store.PageRequest{Limit: 1}); return err }},
			{"Likes.Set", func() error { _, err := st.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: 1}, 1, true); return err }},
		} {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				wantKind(t, c.call(), errs.KindUnavailable)
			})
		}
	}
}

func TestACancelledRequestIsNotAnOutage(t *testing.T) {
	st := store.New(db)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := st.Users.Get(cancelled, 1)
	if err == nil || errs.Is(err, errs.KindUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the cancellation, not unavailable", err)
	}
}

func TestABrokenCheckConstraintIsInvalid(t *testing.T) {
	u := newUser(t, "self")
	_, err := store.New(db).Follows.Set(ctx, store.Caller{ID: u.ID}, u.ID, true) // follows_no_self_follow
	wantKind(t, err, errs.KindInvalid)
}

// A store method with a transaction of its own, called inside Transact, runs once in a
// savepoint: its write commits or rolls back with the outer transaction.
func TestAMethodWithItsOwnTransactionJoinsTheOuterOne(t *testing.T) {
	st := store.New(db)
	author, fan := newUser(t, "author"), newUser(t, "fan")
	v := newVideo(t, author.ID)
	rollback := errors.New("roll back")
	err := st.Transact(ctx, func(tx *store.Store) error {
		n, err := tx.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan.ID}, v.ID, true)
		if err != nil || n != 1 {
			t.Fatalf("like inside Transact: count %d, err %v", n, err)
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("Transact: %v", err)
	}
	if n := countOf(t, `SELECT count(*) FROM video_likes WHERE user_id = ? AND video_id = ?`, fan.ID, v.ID); n != 0 {
		t.Fatalf("the like outlived the rolled-back transaction: %d rows", n)
	}
	must(t, st.Transact(ctx, func(tx *store.Store) error {
		_, err := tx.Likes.Set(ctx, store.VideoLikes, store.Caller{ID: fan.ID}, v.ID, true)
		return err
	}))
	if n := countOf(t, `SELECT like_count FROM video_counts WHERE id = ?`, v.ID); n != 1 {
		t.Fatalf("like_count %d after the committed like", n)
	}
}
