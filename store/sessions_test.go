package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// The refresh tokens of login sessions (sessions.go).

// newToken stores a refresh token of user in family.
func newToken(t *testing.T, user int32, family string) *models.RefreshToken {
	t.Helper()
	rt := &models.RefreshToken{UserID: user, FamilyID: family, TokenHash: unique("hash"),
		ExpiresAt: time.Now().UTC().Add(time.Hour)}
	must(t, store.New(db).Sessions.Create(ctx, rt))
	return rt
}

// revoked reports which of tokens are revoked.
func revoked(t *testing.T, tokens ...*models.RefreshToken) []bool {
	t.Helper()
	out := make([]bool, len(tokens))
	for i, rt := range tokens {
		out[i] = countOf(t, `SELECT count(*) FROM refresh_tokens WHERE id = ? AND revoked_at IS NOT NULL`, rt.ID) == 1
	}
	return out
}

func TestSessionsCreateAndOwnerOf(t *testing.T) {
	st := store.New(db)
	user := newUser(t, "user").ID
	rt := newToken(t, user, unique("family"))
	if owner, ok, err := st.Sessions.OwnerOf(ctx, rt.TokenHash); err != nil || !ok || owner != user {
		t.Fatalf("OwnerOf: %d %v %v, want %d", owner, ok, err, user)
	}
	if owner, ok, err := st.Sessions.OwnerOf(ctx, unique("unknown")); err != nil || ok || owner != 0 {
		t.Fatalf("OwnerOf an unknown hash: %d %v %v", owner, ok, err)
	}
	err := st.Sessions.Create(ctx, &models.RefreshToken{UserID: user, FamilyID: "f", TokenHash: rt.TokenHash, ExpiresAt: rt.ExpiresAt})
	wantKind(t, err, errs.KindConflict)
	err = st.Sessions.Create(ctx, &models.RefreshToken{UserID: 2147483647, FamilyID: "f", TokenHash: unique("h"), ExpiresAt: rt.ExpiresAt})
	wantKind(t, err, errs.KindNotFound)
}

func TestSessionsLockMarkUsedAndRevoke(t *testing.T) {
	st := store.New(db)
	user, other := newUser(t, "user").ID, newUser(t, "other").ID
	family := unique("family")
	first, second := newToken(t, user, family), newToken(t, user, family)
	otherSession := newToken(t, user, unique("family"))
	theirs := newToken(t, other, unique("family"))

	t.Run("Lock reads the token, nil for an unknown one", func(t *testing.T) {
		must(t, st.Transact(ctx, func(tx *store.Store) error {
			rt, err := tx.Sessions.Lock(ctx, first.TokenHash)
			must(t, err)
			if rt == nil || rt.ID != first.ID || rt.UserID != user || rt.FamilyID != family || rt.UsedAt != nil || rt.RevokedAt != nil {
				t.Fatalf("Lock: %+v", rt)
			}
			none, err := tx.Sessions.Lock(ctx, unique("unknown"))
			if none != nil || err != nil {
				t.Fatalf("Lock of an unknown hash: %+v %v", none, err)
			}
			return nil
		}))
	})
	t.Run("MarkUsed spends the token", func(t *testing.T) {
		at := time.Now().UTC().Truncate(time.Millisecond)
		must(t, st.Sessions.MarkUsed(ctx, first.ID, at))
		rt, err := st.Sessions.Lock(ctx, first.TokenHash)
		must(t, err)
		if rt.UsedAt == nil || !rt.UsedAt.Equal(at) {
			t.Fatalf("used_at %v, want %v", rt.UsedAt, at)
		}
		if rt2, err := st.Sessions.Lock(ctx, second.TokenHash); err != nil || rt2.UsedAt != nil {
			t.Fatalf("the other token of the family was spent too: %+v %v", rt2, err)
		}
	})
	t.Run("RevokeFamilyOf leaves another user's token alone", func(t *testing.T) {
		must(t, st.Sessions.RevokeFamilyOf(ctx, user, theirs.TokenHash, time.Now().UTC()))
		must(t, st.Sessions.RevokeFamilyOf(ctx, other, first.TokenHash, time.Now().UTC()))
		if got := revoked(t, first, second, otherSession, theirs); !slices.Equal(got, []bool{false, false, false, false}) {
			t.Fatalf("revoked %v, want none", got)
		}
	})
	t.Run("RevokeFamilyOf revokes the whole session of one's own token", func(t *testing.T) {
		must(t, st.Sessions.RevokeFamilyOf(ctx, user, second.TokenHash, time.Now().UTC()))
		if got := revoked(t, first, second, otherSession, theirs); !slices.Equal(got, []bool{true, true, false, false}) {
			t.Fatalf("revoked %v, want the family only", got)
		}
	})
	t.Run("RevokeFamily keeps the time of an earlier revocation", func(t *testing.T) {
		var before time.Time
		must(t, db.Raw(`SELECT revoked_at FROM refresh_tokens WHERE id = ?`, first.ID).Scan(&before).Error)
		must(t, st.Sessions.RevokeFamily(ctx, family, before.Add(time.Hour)))
		var after time.Time
		must(t, db.Raw(`SELECT revoked_at FROM refresh_tokens WHERE id = ?`, first.ID).Scan(&after).Error)
		if !after.Equal(before) {
			t.Fatalf("revoked_at moved from %v to %v", before, after)
		}
		fresh := unique("family")
		a, b := newToken(t, other, fresh), newToken(t, other, fresh)
		must(t, st.Sessions.RevokeFamily(ctx, fresh, time.Now().UTC()))
		if got := revoked(t, a, b, otherSession, theirs); !slices.Equal(got, []bool{true, true, false, false}) {
			t.Fatalf("revoked %v, want that family only", got)
		}
	})
	t.Run("RevokeAll revokes every session of the user and no one else's", func(t *testing.T) {
		must(t, st.Sessions.RevokeAll(ctx, user, time.Now().UTC()))
		if got := revoked(t, first, second, otherSession, theirs); !slices.Equal(got, []bool{true, true, true, false}) {
			t.Fatalf("revoked %v", got)
		}
	})
}

func TestSessionsLockMakesASecondRefreshWaitAndSeeTheTokenSpent(t *testing.T) {
	st := store.New(db)
	rt := newToken(t, newUser(t, "user").ID, unique("family"))
	locked, spent := make(chan struct{}), make(chan *models.RefreshToken, 1)
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- st.Transact(ctx, func(tx *store.Store) error {
			if _, err := tx.Sessions.Lock(ctx, rt.TokenHash); err != nil {
				return err
			}
			close(locked)
			// Spend the token only once the second refresh waits for the lock.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				var waiting int64
				if err := db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
					AND query LIKE '%refresh_tokens%FOR UPDATE%' AND datname = current_database()`).Scan(&waiting).Error; err != nil {
					return err
				}
				if waiting > 0 {
					break
				}
				if time.Now().After(deadline) {
					return errors.New("no second refresh waits for the lock")
				}
			}
			return tx.Sessions.MarkUsed(ctx, rt.ID, time.Now().UTC())
		})
	}()
	<-locked
	err := st.Transact(ctx, func(tx *store.Store) error {
		second, err := tx.Sessions.Lock(ctx, rt.TokenHash)
		spent <- second
		return err
	})
	must(t, err)
	if err := <-firstDone; err != nil {
		t.Fatalf("the first refresh: %v (the second did not wait for its lock)", err)
	}
	if second := <-spent; second == nil || second.UsedAt == nil {
		t.Fatalf("the second refresh read %+v, want the token spent by the first", second)
	}
}
