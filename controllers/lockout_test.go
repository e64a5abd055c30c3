package controllers_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/config"
	"tiktok/internal/apitest"
)

// burst sends the requests made by req(i) for i < n all at once and counts the answers by
// status; every 429 must say when to come back.
func burst(t *testing.T, n int, req func(i int) *apitest.Response) map[int]int {
	t.Helper()
	codes := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res := req(i)
			codes[i] = res.Code
			if res.Code == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %s", res.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	return count
}

// TestLoginLockoutHoldsUnderABurst: the per-account allowance of failed logins is taken before
// the password is compared, one attempt at a time, so a burst of guesses sent at once gets no
// more comparisons than a patient attacker; the right password still works within the
// allowance, and a success forgives the typos before it.
func TestLoginLockoutHoldsUnderABurst(t *testing.T) {
	const allowance = 10
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginFailsPerAccount = allowance }))
	// The same account by e-mail in any case or by username: one allowance.
	attempt := func(u *apitest.User, i int, password string) *apitest.Response {
		body := map[string]string{"email": u.Email, "password": password}
		switch i % 3 {
		case 1:
			body = map[string]string{"email": strings.ToUpper(u.Email), "password": password}
		case 2:
			body = map[string]string{"username": u.Username, "password": password}
		}
		return api.Do("POST", "/api/users/login", body, "")
	}
	wrong := func(i int) string { return fmt.Sprintf("wrong guess %d", i) }

	t.Run("30 wrong guesses at once: only the allowance is checked", func(t *testing.T) {
		u := api.NewUser("burst")
		got := burst(t, 30, func(i int) *apitest.Response { return attempt(u, i, wrong(i)) })
		if got[401] != allowance || got[429] != 30-allowance {
			t.Fatalf("answers by status %v, want %d x 401 and %d x 429", got, allowance, 30-allowance)
		}
		// The allowance is spent: 40 guesses at once, the right one among them, all refused.
		got = burst(t, 40, func(i int) *apitest.Response {
			if i == 20 {
				return attempt(u, i, u.Password)
			}
			return attempt(u, i, wrong(i))
		})
		if got[429] != 40 {
			t.Fatalf("after the allowance was spent: answers by status %v, want 40 x 429", got)
		}
		// Once the window has passed, the owner gets in.
		api.Clock.Advance(15*time.Minute + time.Second)
		api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Status(200)
	})

	t.Run("the right password within the allowance logs in and forgives the typos", func(t *testing.T) {
		u := api.NewUser("typist")
		got := burst(t, allowance, func(i int) *apitest.Response {
			if i == 0 {
				return attempt(u, i, u.Password)
			}
			return attempt(u, i, wrong(i))
		})
		if got[200] != 1 || got[401] != allowance-1 {
			t.Fatalf("answers by status %v, want one 200 and %d x 401", got, allowance-1)
		}
		// The typos of the burst are forgotten with the success, or the account would be
		// locked now: the whole allowance is there again, and no more.
		api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Status(200)
		got = burst(t, 30, func(i int) *apitest.Response { return attempt(u, i, wrong(i)) })
		if got[401] != allowance || got[429] != 30-allowance {
			t.Fatalf("answers by status %v, want %d x 401 and %d x 429", got, allowance, 30-allowance)
		}
	})

	t.Run("unknown accounts have the same allowance", func(t *testing.T) {
		ghost := &apitest.User{Email: apitest.Unique("ghost") + "@example.com", Username: apitest.Unique("ghost")}
		got := burst(t, 30, func(i int) *apitest.Response {
			return api.Do("POST", "/api/users/login", map[string]string{"email": ghost.Email, "password": wrong(i)}, "")
		})
		if got[401] != allowance || got[429] != 30-allowance {
			t.Fatalf("answers by status %v, want %d x 401 and %d x 429", got, allowance, 30-allowance)
		}
	})
}

// TestPasswordChangeLockoutHoldsUnderABurst: guesses of the current password on PUT
// /users/:id/password (someone holding a stolen access token) have the same allowance, taken
// before the comparison.
func TestPasswordChangeLockoutHoldsUnderABurst(t *testing.T) {
	const allowance = 10
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginFailsPerAccount = allowance }))
	u := api.NewUser("pwburst")
	change := func(current string) *apitest.Response {
		return api.Do("PUT", apitest.Path("/api/users/%d/password", u.ID),
			map[string]string{"currentPassword": current, "newPassword": "a new password"}, u.Token)
	}
	got := burst(t, 30, func(i int) *apitest.Response { return change(fmt.Sprintf("wrong guess %d", i)) })
	if got[400] != allowance || got[429] != 30-allowance {
		t.Fatalf("answers by status %v, want %d x 400 and %d x 429", got, allowance, 30-allowance)
	}
	got = burst(t, 40, func(i int) *apitest.Response {
		if i == 20 {
			return change(u.Password)
		}
		return change(fmt.Sprintf("wrong guess %d", i))
	})
	if got[429] != 40 {
		t.Fatalf("after the allowance was spent: answers by status %v, want 40 x 429", got)
	}
	api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Status(200)
	api.Clock.Advance(15*time.Minute + time.Second)
	change(u.Password).Status(200)
}
