package controllers_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"tiktok/internal/apitest"
)

// revokeRace logs u in sessions times, then sends one refresh per session, logins more
// logins with u's password, and revoke (a logout-everywhere or a password change) all at
// once. It returns the refresh tokens issued before the revocation or minted by the racing
// refreshes, and, apart, those the racing logins got.
func revokeRace(t *testing.T, api *apitest.API, u *apitest.User, sessions, logins int, revoke func() *apitest.Response) (tokens, loggedIn []string) {
	t.Helper()
	tokens = make([]string, sessions)
	tokens[0] = u.Refresh
	var wg sync.WaitGroup
	for i := 1; i < sessions; i++ {
		wg.Go(func() {
			s := *u
			api.Login(&s)
			tokens[i] = s.Refresh
		})
	}
	wg.Wait()
	minted := make([]string, sessions)
	loggedIn = make([]string, logins)
	newRefresh := func(what string, res *apitest.Response, into *string) {
		switch res.Code {
		case http.StatusOK:
			var pair struct {
				RefreshToken string `json:"refreshToken"`
			}
			res.Decode(&pair)
			*into = pair.RefreshToken
		case http.StatusUnauthorized:
		default:
			t.Errorf("%s racing the revocation: %d %s", what, res.Code, res.Body)
		}
	}
	start := make(chan struct{})
	for i, rt := range tokens {
		wg.Go(func() {
			<-start
			newRefresh("refresh", api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": rt}, ""), &minted[i])
		})
	}
	for i := range logins {
		wg.Go(func() {
			<-start
			newRefresh("login", api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, ""), &loggedIn[i])
		})
	}
	wg.Go(func() {
		<-start
		if res := revoke(); res.Code != http.StatusOK {
			t.Errorf("revocation: %d %s", res.Code, res.Body)
		}
	})
	close(start)
	wg.Wait()
	return append(tokens, minted...), loggedIn
}

// survivors counts the refresh tokens that still work ("" stands for none).
func survivors(api *apitest.API, tokens []string) int {
	var n atomic.Int32
	var wg sync.WaitGroup
	for _, rt := range tokens {
		if rt == "" {
			continue
		}
		wg.Go(func() {
			if api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": rt}, "").Code == http.StatusOK {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

// TestLogoutEverywhereRacingRefreshesLeavesNoSession: a logout-everywhere sent together with
// one refresh per session ends every session, whichever runs first: no refresh token issued
// before it, nor one minted by a refresh that raced it, works afterwards.
func TestLogoutEverywhereRacingRefreshesLeavesNoSession(t *testing.T) {
	api := apitest.New(t, db)
	const rounds, sessions = 50, 25
	for round := range rounds {
		u := api.NewUser("logoutrace")
		tokens, _ := revokeRace(t, api, u, sessions, 0, func() *apitest.Response {
			return api.Do("POST", "/api/users/logout?all=true", nil, u.Token)
		})
		if n := survivors(api, tokens); n != 0 {
			t.Fatalf("round %d: %d of %d refresh tokens survived the logout-everywhere", round, n, len(tokens))
		}
	}
}

// TestPasswordChangeRacingRefreshesLeavesNoSession is the same race with a password change,
// joined by logins with the old password: only the pair the change itself answers with may
// work afterwards. A login that checked the old password must not open a session that
// outlives the change, however its steps interleave with it.
func TestPasswordChangeRacingRefreshesLeavesNoSession(t *testing.T) {
	api := apitest.New(t, db)
	const rounds, sessions, logins = 20, 25, 10
	for round := range rounds {
		u := api.NewUser("pwrace")
		var own string
		tokens, loggedIn := revokeRace(t, api, u, sessions, logins, func() *apitest.Response {
			res := api.Do("PUT", apitest.Path("/api/users/%d/password", u.ID),
				map[string]string{"currentPassword": u.Password, "newPassword": "another good password"}, u.Token)
			if res.Code == http.StatusOK {
				own = res.Map()["refreshToken"].(string)
			}
			return res
		})
		if n := survivors(api, tokens); n != 0 {
			t.Fatalf("round %d: %d of %d refresh tokens survived the password change", round, n, len(tokens))
		}
		if n := survivors(api, loggedIn); n != 0 {
			t.Fatalf("round %d: %d sessions opened with the old password survived the password change", round, n)
		}
		if own == "" || survivors(api, []string{own}) != 1 {
			t.Fatalf("round %d: the password change's own refresh token does not work", round)
		}
	}
}
