package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	mathrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tiktok/auth"
	"tiktok/errs"
	"tiktok/internal/apitest"
	"tiktok/middleware"
	"tiktok/store"
)

const (
	secret   = "sessions-test-secret-0123456789abcdef"
	password = "correct horse battery"
	// fastCost is bcrypt's minimum: the tests that are not about bcrypt's work stay fast,
	// even under -race (where one comparison at cost 10 takes over a second).
	fastCost = 4
)

var fastPasswords = sync.OnceValue(func() *auth.Passwords {
	p, err := auth.NewPasswords(fastCost)
	if err != nil {
		panic(err)
	}
	return p
})

// newService builds the service as routes.New does, over this package's database, with
// bcrypt at fastCost and the given limiter of failed password checks.
func newService(limiter auth.Limiter) *auth.Service {
	return &auth.Service{
		Store:      store.New(db),
		Tokens:     auth.NewTokens(secret, time.Hour),
		Passwords:  fastPasswords(),
		RefreshTTL: 24 * time.Hour,
		LoginFails: limiter,
	}
}

// unique returns prefix with a random suffix, so tests sharing the database never collide.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

type account struct {
	ID              int32
	Username, Email string
}

// register signs up a new user whose password is password.
func register(t testing.TB, s *auth.Service, prefix string) account {
	t.Helper()
	name := unique(prefix)
	u, err := s.Register(context.Background(), auth.Registration{Username: name, Email: name + "@example.com", Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return account{ID: u.ID, Username: u.Username, Email: u.Email}
}

func byEmail(a account, pw string) auth.Credentials {
	return auth.Credentials{Field: "email", Login: a.Email, Password: pw}
}

// login opens a session of a with the right password.
func login(t testing.TB, s *auth.Service, a account) auth.Pair {
	t.Helper()
	pair, u, err := s.Login(context.Background(), byEmail(a, password))
	if err != nil {
		t.Fatalf("login %s: %v", a.Email, err)
	}
	if u.ID != a.ID || pair.AccessToken == "" || pair.RefreshToken == "" {
		t.Fatalf("login %s: user %d, pair %+v", a.Email, u.ID, pair)
	}
	return pair
}

// wantErr fails unless err is an *errs.Error of kind with code (any code when code is "").
func wantErr(t testing.TB, err error, kind errs.Kind, code string) *errs.Error {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != kind || (code != "" && e.Code != code) {
		t.Fatalf("err = %v, want kind %d with code %q", err, kind, code)
	}
	return e
}

// isErr reports whether err is an *errs.Error of kind with code, for checks that say more
// than wantErr when they fail.
func isErr(err error, kind errs.Kind, code string) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Kind == kind && e.Code == code
}

// mustRefresh refreshes token and fails unless that works.
func mustRefresh(t testing.TB, s *auth.Service, token string) auth.Pair {
	t.Helper()
	p, err := s.Refresh(context.Background(), token)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if p.AccessToken == "" || p.RefreshToken == "" || p.RefreshToken == token {
		t.Fatalf("refresh gave %+v", p)
	}
	return p
}

func mustAuthenticate(t testing.TB, s *auth.Service, access string, want int32) {
	t.Helper()
	id, err := s.Authenticate(context.Background(), access)
	if err != nil || id != want {
		t.Fatalf("authenticate = %d, %v; want %d", id, err, want)
	}
}

func TestRegisterThenLogin(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})
	a := register(t, s, "reg")

	t.Run("by e-mail and by username, in any case", func(t *testing.T) {
		for _, c := range []auth.Credentials{
			{Field: "email", Login: a.Email, Password: password},
			{Field: "email", Login: strings.ToUpper(a.Email), Password: password},
			{Field: "username", Login: a.Username, Password: password},
			{Field: "username", Login: strings.ToUpper(a.Username), Password: password},
		} {
			pair, u, err := s.Login(ctx, c)
			if err != nil {
				t.Fatalf("%s %q: %v", c.Field, c.Login, err)
			}
			if u.ID != a.ID {
				t.Fatalf("%s %q logged in user %d, want %d", c.Field, c.Login, u.ID, a.ID)
			}
			mustAuthenticate(t, s, pair.AccessToken, a.ID)
		}
	})

	t.Run("wrong password and unknown account get the same answer", func(t *testing.T) {
		wrong := wantErr(t, loginErr(s, byEmail(a, "wrong password")), errs.KindUnauthorized, errs.CodeInvalidCredentials)
		for _, c := range []auth.Credentials{
			{Field: "email", Login: "nobody-" + a.Email, Password: password},
			{Field: "username", Login: "nobody_" + a.Username, Password: password},
			{Field: "username", Login: a.Username, Password: "wrong password"},
		} {
			e := wantErr(t, loginErr(s, c), errs.KindUnauthorized, errs.CodeInvalidCredentials)
			if e.Message != wrong.Message || e.Message != auth.MsgInvalidCredentials || e.Error() != wrong.Error() {
				t.Fatalf("%s %q: %q, wrong password: %q", c.Field, c.Login, e.Error(), wrong.Error())
			}
		}
	})

	t.Run("a taken e-mail or username is a conflict naming the field", func(t *testing.T) {
		other := unique("dup")
		_, err := s.Register(ctx, auth.Registration{Username: other, Email: strings.ToUpper(a.Email), Password: password})
		e := wantErr(t, err, errs.KindConflict, "")
		if _, ok := e.Fields["email"]; !ok || len(e.Fields) != 1 {
			t.Fatalf("taken e-mail: fields %v, want email only", e.Fields)
		}
		_, err = s.Register(ctx, auth.Registration{Username: strings.ToUpper(a.Username), Email: other + "@example.com", Password: password})
		e = wantErr(t, err, errs.KindConflict, "")
		if _, ok := e.Fields["username"]; !ok || len(e.Fields) != 1 {
			t.Fatalf("taken username: fields %v, want username only", e.Fields)
		}
	})
}

func loginErr(s *auth.Service, c auth.Credentials) error {
	_, _, err := s.Login(context.Background(), c)
	return err
}

func TestLoginLockout(t *testing.T) {
	const max, window = 3, 15 * time.Minute
	setup := func() (*auth.Service, *apitest.Clock) {
		c := apitest.NewClock()
		return newService(middleware.NewMemoryLimiter(max, window, c.Now)), c
	}
	fail := func(t *testing.T, s *auth.Service, c auth.Credentials) {
		t.Helper()
		wantErr(t, loginErr(s, c), errs.KindUnauthorized, errs.CodeInvalidCredentials)
	}
	limited := func(t *testing.T, err error) {
		t.Helper()
		e := wantErr(t, err, errs.KindRateLimited, "rate_limited")
		if e.RetryAfter <= 0 || e.RetryAfter > window {
			t.Fatalf("RetryAfter = %v, want within (0, %v]", e.RetryAfter, window)
		}
	}

	t.Run("max failures lock the account, right password included, until the window passes", func(t *testing.T) {
		s, c := setup()
		a := register(t, s, "lock")
		for range max {
			fail(t, s, byEmail(a, "wrong password"))
		}
		limited(t, loginErr(s, byEmail(a, password)))
		// The lock is the account's, whichever name it is reached by.
		limited(t, loginErr(s, auth.Credentials{Field: "username", Login: strings.ToUpper(a.Username), Password: password}))
		c.Advance(window - time.Minute)
		limited(t, loginErr(s, byEmail(a, password)))
		c.Advance(time.Minute + time.Second)
		login(t, s, a)
	})

	t.Run("failures by e-mail and by username add up", func(t *testing.T) {
		s, _ := setup()
		a := register(t, s, "mixed")
		fail(t, s, byEmail(a, "wrong password"))
		fail(t, s, auth.Credentials{Field: "username", Login: a.Username, Password: "wrong password"})
		fail(t, s, byEmail(a, "wrong again"))
		limited(t, loginErr(s, byEmail(a, password)))
	})

	t.Run("a success resets the count", func(t *testing.T) {
		s, _ := setup()
		a := register(t, s, "reset")
		for range 2 {
			for range max - 1 {
				fail(t, s, byEmail(a, "wrong password"))
			}
			login(t, s, a) // 2*(max-1) >= max failures in all: only a reset lets this through
		}
	})

	t.Run("each account has its own count", func(t *testing.T) {
		s, _ := setup()
		a, b := register(t, s, "own"), register(t, s, "own")
		for range max {
			fail(t, s, byEmail(a, "wrong password"))
		}
		limited(t, loginErr(s, byEmail(a, password)))
		login(t, s, b)
	})

	t.Run("failures for an unknown name are limited too", func(t *testing.T) {
		s, c := setup()
		nobody := auth.Credentials{Field: "email", Login: unique("nobody") + "@example.com", Password: "guess"}
		for range max {
			fail(t, s, nobody)
		}
		limited(t, loginErr(s, nobody))
		upper := nobody
		upper.Login = strings.ToUpper(nobody.Login)
		limited(t, loginErr(s, upper))
		fail(t, s, auth.Credentials{Field: "email", Login: unique("other") + "@example.com", Password: "guess"})
		c.Advance(window + time.Second)
		fail(t, s, nobody)
	})

	t.Run("wrong current passwords lock the password change of that user", func(t *testing.T) {
		ctx := context.Background()
		s, c := setup()
		a, b := register(t, s, "chpw"), register(t, s, "chpw")
		for range max {
			_, err := s.ChangePassword(ctx, a.ID, "wrong password", "new password 1")
			wantErr(t, err, errs.KindInvalid, errs.CodeValidationFailed)
		}
		_, err := s.ChangePassword(ctx, a.ID, password, "new password 1")
		limited(t, err)
		// Another user's guesses are counted apart.
		if _, err := s.ChangePassword(ctx, b.ID, password, "new password 1"); err != nil {
			t.Fatalf("other user: %v", err)
		}
		c.Advance(window + time.Second)
		if _, err := s.ChangePassword(ctx, a.ID, password, "new password 1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})

	t.Run("a refresh rotates; presenting a spent token revokes its whole session", func(t *testing.T) {
		a := register(t, s, "rot")
		p0 := login(t, s, a)
		other := login(t, s, a) // a second session of the same user
		p1 := mustRefresh(t, s, p0.RefreshToken)
		mustAuthenticate(t, s, p1.AccessToken, a.ID)
		p2 := mustRefresh(t, s, p1.RefreshToken)

		_, err := s.Refresh(ctx, p1.RefreshToken) // spent: a copy is being replayed
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenRevoked)
		for name, tok := range map[string]string{"the newest token": p2.RefreshToken, "the first token": p0.RefreshToken} {
			_, err := s.Refresh(ctx, tok)
			if !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
				t.Fatalf("%s of the revoked session: %v, want token_revoked", name, err)
			}
		}
		mustRefresh(t, s, other.RefreshToken) // the other session is not the replayed one's
	})

	t.Run("an unknown token is invalid", func(t *testing.T) {
		never, _ := auth.NewRefreshToken()
		for _, tok := range []string{never, "garbage", ""} {
			_, err := s.Refresh(ctx, tok)
			wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenInvalid)
		}
	})

	t.Run("an expired token is expired", func(t *testing.T) {
		a := register(t, s, "exp")
		p := login(t, s, a)
		if err := db.Exec(`UPDATE refresh_tokens SET expires_at = ? WHERE token_hash = ?`,
			time.Now().UTC().Add(-time.Second), auth.HashRefreshToken(p.RefreshToken)).Error; err != nil {
			t.Fatal(err)
		}
		_, err := s.Refresh(ctx, p.RefreshToken)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenExpired)

		short := newService(middleware.Unlimited{})
		short.RefreshTTL = time.Millisecond
		p = login(t, short, a)
		time.Sleep(20 * time.Millisecond)
		_, err = short.Refresh(ctx, p.RefreshToken)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenExpired)
	})

	t.Run("a deleted user's token fails", func(t *testing.T) {
		a := register(t, s, "gone")
		p := login(t, s, a)
		if _, err := s.Store.Users.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		// The user's refresh tokens went with the row (ON DELETE CASCADE): the token is unknown.
		_, err := s.Refresh(ctx, p.RefreshToken)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenInvalid)
	})
}

func TestLogout(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})

	t.Run("one session", func(t *testing.T) {
		a, b := register(t, s, "out"), register(t, s, "out")
		a1, a2, b1 := login(t, s, a), login(t, s, a), login(t, s, b)
		a1r := mustRefresh(t, s, a1.RefreshToken)

		// The spent token still names its session: logging out with it ends the session.
		if err := s.Logout(ctx, a.ID, a1.RefreshToken, false); err != nil {
			t.Fatal(err)
		}
		_, err := s.Refresh(ctx, a1r.RefreshToken)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenRevoked)
		a2 = mustRefresh(t, s, a2.RefreshToken)

		// Someone else's refresh token is ignored, and so is none.
		if err := s.Logout(ctx, a.ID, b1.RefreshToken, false); err != nil {
			t.Fatal(err)
		}
		if err := s.Logout(ctx, a.ID, "", false); err != nil {
			t.Fatal(err)
		}
		mustRefresh(t, s, b1.RefreshToken)
		mustRefresh(t, s, a2.RefreshToken)
		// Access tokens of one session are not revoked: they expire on their own.
		mustAuthenticate(t, s, a1.AccessToken, a.ID)
	})

	t.Run("all sessions", func(t *testing.T) {
		a, b := register(t, s, "outall"), register(t, s, "outall")
		sessions := []auth.Pair{login(t, s, a), login(t, s, a), login(t, s, a)}
		sessions = append(sessions, mustRefresh(t, s, sessions[2].RefreshToken))
		bp := login(t, s, b)

		if err := s.Logout(ctx, a.ID, "", true); err != nil {
			t.Fatal(err)
		}
		for i, p := range sessions {
			_, err := s.Refresh(ctx, p.RefreshToken)
			if !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
				t.Fatalf("refresh token %d after logout everywhere: %v", i, err)
			}
			_, err = s.Authenticate(ctx, p.AccessToken)
			if !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
				t.Fatalf("access token %d after logout everywhere: %v", i, err)
			}
		}
		mustAuthenticate(t, s, bp.AccessToken, b.ID)
		mustRefresh(t, s, bp.RefreshToken)
		p := login(t, s, a) // logging in again works
		mustAuthenticate(t, s, p.AccessToken, a.ID)
	})
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})
	a := register(t, s, "pw")
	p1, p2 := login(t, s, a), login(t, s, a)

	_, err := s.ChangePassword(ctx, a.ID, "wrong password", "new password 1")
	e := wantErr(t, err, errs.KindInvalid, errs.CodeValidationFailed)
	if _, ok := e.Fields["currentPassword"]; !ok {
		t.Fatalf("fields %v, want currentPassword", e.Fields)
	}
	mustAuthenticate(t, s, p1.AccessToken, a.ID) // a wrong guess revokes nothing

	const next = "new password 1"
	pair, err := s.ChangePassword(ctx, a.ID, password, next)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []auth.Pair{p1, p2} {
		_, err := s.Authenticate(ctx, p.AccessToken)
		if !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
			t.Fatalf("old access token %d: %v, want token_revoked", i, err)
		}
		_, err = s.Refresh(ctx, p.RefreshToken)
		if !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
			t.Fatalf("old refresh token %d: %v, want token_revoked", i, err)
		}
	}
	mustAuthenticate(t, s, pair.AccessToken, a.ID)
	mustRefresh(t, s, pair.RefreshToken)

	if _, _, err := s.Login(ctx, byEmail(a, next)); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	wantErr(t, loginErr(s, byEmail(a, password)), errs.KindUnauthorized, errs.CodeInvalidCredentials)
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})
	a := register(t, s, "authn")
	p := login(t, s, a)
	mustAuthenticate(t, s, p.AccessToken, a.ID)

	forged, err := auth.NewTokens("another-secret-another-secret-123", time.Hour).Issue(a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"garbage", "", p.AccessToken + "x", forged} {
		_, err := s.Authenticate(ctx, tok)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenInvalid)
	}

	later := newService(middleware.Unlimited{})
	later.Tokens.Now = func() time.Time { return time.Now().Add(time.Hour + auth.Leeway + time.Minute) }
	_, err = later.Authenticate(ctx, p.AccessToken)
	wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenExpired)

	if _, err := s.Store.Users.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, p.AccessToken)
	wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenRevoked)
}

// liveTokens counts the user's refresh tokens that are neither spent nor revoked.
func liveTokens(t testing.TB, user int32) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(`SELECT count(*) FROM refresh_tokens WHERE user_id = ? AND revoked_at IS NULL AND used_at IS NULL`, user).
		Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentRefreshOfOneToken presents one refresh token 20 times at once. The token row
// lock makes the presentations take turns: the first marks the token spent and mints its
// successor; every later one finds it spent (reuse: revokes the family, including that
// successor) or already revoked. So exactly one call succeeds, the 19 others fail with
// token_revoked, and afterwards the session has no live refresh token: the winner's new token
// fails too, and the owner must log in again. (Its access token lives until it expires, as
// after any revocation of one session.)
func TestConcurrentRefreshOfOneToken(t *testing.T) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})
	const n, rounds = 20, 5
	for round := range rounds {
		a := register(t, s, "same")
		p := login(t, s, a)
		pairs := make([]auth.Pair, n)
		results := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				pairs[i], results[i] = s.Refresh(ctx, p.RefreshToken)
			})
		}
		close(start)
		wg.Wait()

		var winner *auth.Pair
		for i, err := range results {
			switch {
			case err == nil && winner == nil:
				winner = &pairs[i]
			case err == nil:
				t.Fatalf("round %d: two refreshes of one token succeeded", round)
			case !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked):
				t.Fatalf("round %d: refresh %d: %v, want token_revoked", round, i, err)
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no refresh succeeded", round)
		}
		var family, revoked int64
		if err := db.Raw(`SELECT count(*), count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM refresh_tokens
			WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)`,
			auth.HashRefreshToken(p.RefreshToken)).Row().Scan(&family, &revoked); err != nil {
			t.Fatal(err)
		}
		if family != 2 || revoked != family {
			t.Fatalf("round %d: session has %d tokens (%d revoked), want the original and one successor, both revoked", round, family, revoked)
		}
		if live := liveTokens(t, a.ID); live != 0 {
			t.Fatalf("round %d: %d live refresh tokens, want 0", round, live)
		}
		_, err := s.Refresh(ctx, winner.RefreshToken)
		wantErr(t, err, errs.KindUnauthorized, errs.CodeTokenRevoked)
	}
}

// raceRevocation logs one user into 25 sessions, then runs a refresh of each session and
// revoke at once, for rounds rounds. Whatever the interleaving, no refresh token issued before
// revoke returned (the sessions' own, and those minted by refreshes that raced it) may work
// afterwards, nor any access token; the database holds no live refresh token of the user but
// the one of the pair revoke returns, if any, which must work.
//
// The refreshes start at random moments over a spread of 20 ms, and revoke at a shift from
// them tuned after each round toward the other order: revoke taking the user row first (the
// refreshes then wait and find their tokens revoked) and refreshes taking it first (revoke
// then waits for them, and must revoke what they minted). Either way the calls overlap in
// time and wait for each other's locks; the tuning keeps both orders common whatever work
// revoke does before its transaction (a password change spends two bcrypt runs first).
// Refreshes hold the user row with FOR SHARE, which they share with each other, so once one
// of them is in, revoke tends to wait for the whole batch: most rounds fall wholly on one side.
func raceRevocation(t *testing.T, rounds int, revoke func(s *auth.Service, a account) (*auth.Pair, error)) {
	ctx := context.Background()
	s := newService(middleware.Unlimited{})
	const n, spread = 25, 20 * time.Millisecond
	var shift time.Duration // > 0: revoke starts later; < 0: the refreshes do
	step, lastSide := spread/2, false
	var refreshesFirst, revokeFirst, split, overlapping, survivors int
	for round := range rounds {
		a := register(t, s, "race")
		sessions := make([]auth.Pair, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { sessions[i], _, _ = s.Login(ctx, byEmail(a, password)) })
		}
		wg.Wait()
		for i, p := range sessions {
			if p.RefreshToken == "" {
				t.Fatalf("round %d: login %d failed", round, i)
			}
		}

		refreshed := make([]auth.Pair, n)
		refreshErrs := make([]error, n)
		var kept *auth.Pair
		var revokeErr error
		var spans [n + 1][2]time.Time // when each refresh, and revoke (last), began and returned
		start := make(chan struct{})
		for i := range n {
			delay := max(-shift, 0) + mathrand.N(spread)
			wg.Go(func() {
				<-start
				time.Sleep(delay)
				spans[i][0] = time.Now()
				refreshed[i], refreshErrs[i] = s.Refresh(ctx, sessions[i].RefreshToken)
				spans[i][1] = time.Now()
			})
		}
		wg.Go(func() {
			<-start
			time.Sleep(max(shift, 0))
			spans[n][0] = time.Now()
			kept, revokeErr = revoke(s, a)
			spans[n][1] = time.Now()
		})
		close(start)
		wg.Wait()
		if revokeErr != nil {
			t.Fatalf("round %d: revoke: %v", round, revokeErr)
		}

		var minted []auth.Pair
		for i, err := range refreshErrs {
			switch {
			case err == nil:
				minted = append(minted, refreshed[i])
			case !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked):
				t.Fatalf("round %d: refresh %d: %v, want success or token_revoked", round, i, err)
			}
			if spans[i][0].Before(spans[n][1]) && spans[n][0].Before(spans[i][1]) {
				overlapping++
			}
		}
		switch len(minted) {
		case n:
			refreshesFirst++
		case 0:
			revokeFirst++
		default:
			split++
		}
		// Move revoke later when it went first, earlier when it did not: by steps that grow
		// while the outcome stays on one side and shrink when it flips.
		side := len(minted) < n/2
		if round > 0 && side == lastSide {
			step *= 2
		} else {
			step = max(step/2, time.Millisecond)
		}
		lastSide = side
		if side {
			shift += step
		} else {
			shift -= step
		}

		wantLive := int64(0)
		if kept != nil {
			wantLive = 1
		}
		if live := liveTokens(t, a.ID); live != wantLive {
			t.Errorf("round %d (%d refreshes won): %d live refresh tokens in the database, want %d", round, len(minted), live, wantLive)
		}
		check := func(kind string, tokens []auth.Pair) {
			for i, p := range tokens {
				if _, err := s.Refresh(ctx, p.RefreshToken); err == nil {
					survivors++
					t.Errorf("round %d (%d refreshes won): %s refresh token %d still works after the revocation", round, len(minted), kind, i)
				} else {
					wantErr(t, err, errs.KindUnauthorized, "")
				}
				if _, err := s.Authenticate(ctx, p.AccessToken); !isErr(err, errs.KindUnauthorized, errs.CodeTokenRevoked) {
					survivors++
					t.Errorf("round %d (%d refreshes won): %s access token %d: %v, want token_revoked", round, len(minted), kind, i, err)
				}
			}
		}
		check("original", sessions)
		check("minted", minted)
		if kept != nil {
			mustAuthenticate(t, s, kept.AccessToken, a.ID)
			mustRefresh(t, s, kept.RefreshToken)
		}
	}
	t.Logf("%d rounds: refreshes first in %d, revocation first in %d, split in %d; %d of %d refresh calls overlapped the revocation; %d surviving tokens",
		rounds, refreshesFirst, revokeFirst, split, overlapping, rounds*n, survivors)
}

func TestLogoutEverywhereRacingRefreshes(t *testing.T) {
	raceRevocation(t, 20, func(s *auth.Service, a account) (*auth.Pair, error) {
		return nil, s.Logout(context.Background(), a.ID, "", true)
	})
}

func TestPasswordChangeRacingRefreshes(t *testing.T) {
	raceRevocation(t, 10, func(s *auth.Service, a account) (*auth.Pair, error) {
		// Each round has its own user, whose password is still the first one.
		p, err := s.ChangePassword(context.Background(), a.ID, password, "another password")
		return &p, err
	})
}

// countingHasher counts the password comparisons of the real *auth.Passwords it wraps.
type countingHasher struct {
	*auth.Passwords
	checks, dummies atomic.Int32
}

func (h *countingHasher) Check(hash, pw string) bool {
	h.checks.Add(1)
	return h.Passwords.Check(hash, pw)
}

func (h *countingHasher) CheckDummy(pw string) bool {
	h.dummies.Add(1)
	return h.Passwords.CheckDummy(pw)
}

func TestLoginComparesOnePasswordForUnknownAccountsToo(t *testing.T) {
	h := &countingHasher{Passwords: fastPasswords()}
	s := newService(middleware.Unlimited{})
	s.Passwords = h
	a := register(t, s, "count")
	attempt := func(c auth.Credentials) (checks, dummies int32) {
		t.Helper()
		h.checks.Store(0)
		h.dummies.Store(0)
		wantErr(t, loginErr(s, c), errs.KindUnauthorized, errs.CodeInvalidCredentials)
		return h.checks.Load(), h.dummies.Load()
	}
	if c, d := attempt(byEmail(a, "wrong password")); c != 1 || d != 0 {
		t.Fatalf("wrong password: %d checks, %d dummy checks; want 1 check", c, d)
	}
	for _, cred := range []auth.Credentials{
		{Field: "email", Login: "nobody-" + a.Email, Password: "wrong password"},
		{Field: "username", Login: "nobody_" + a.Username, Password: "wrong password"},
	} {
		if c, d := attempt(cred); c != 0 || d != 1 {
			t.Fatalf("unknown %s: %d checks, %d dummy checks; want 1 dummy check", cred.Field, c, d)
		}
	}
}

// TestDummyCheckCostsARealComparison pins that CheckDummy, the comparison of unknown accounts,
// is a bcrypt comparison at the configured cost. That cost here is 6: neither bcrypt's minimum
// (4) nor its default (10), so a dummy hash made at either instead of the configured cost is
// caught; and cheap enough under -race, where one comparison at cost 10 takes over a second.
//
// The dummy hash's cost is read exactly. The timing check then shows that CheckDummy really
// compares: it times interleaved runs of Check and CheckDummy and compares the fastest run of
// each. Load on the machine only ever adds time to a run, and bcrypt's work is fixed (2^cost
// rounds of the same key schedule), so the fastest runs approach the true cost of each and
// their true ratio is 1; interleaving makes a burst of load hit both sides alike. It stops as
// soon as the two fastest runs are within a factor of 2 of each other (after 3 pairs at
// least), and fails if they are not after 30: more runs can only bring each fastest run down
// to its true cost, so a busy machine costs time, not a false failure, while the faults the
// band guards against can never enter it: a dummy at the minimum cost is 4 times faster, one
// at the default 16 times slower, a skipped comparison thousands of times faster.
func TestDummyCheckCostsARealComparison(t *testing.T) {
	const cost = 6
	p, err := auth.NewPasswords(cost)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := auth.DummyCost(p); err != nil || got != cost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", got, err, cost)
	}
	hash, err := p.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	check, dummy := time.Duration(1<<62), time.Duration(1<<62)
	within := func() bool { return dummy >= check/2 && dummy <= check*2 }
	pairs := 0
	for pairs < 30 && (pairs < 3 || !within()) {
		pairs++
		start := time.Now()
		if p.Check(hash, "wrong password") {
			t.Fatal("wrong password accepted")
		}
		check = min(check, time.Since(start))
		start = time.Now()
		if p.CheckDummy(password) {
			t.Fatal("CheckDummy accepted a password")
		}
		dummy = min(dummy, time.Since(start))
	}
	t.Logf("fastest of %d runs: Check %v, CheckDummy %v", pairs, check, dummy)
	if !within() {
		t.Fatalf("CheckDummy took %v, Check %v: not the same bcrypt work", dummy, check)
	}
}
