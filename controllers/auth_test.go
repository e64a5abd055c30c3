package controllers_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tiktok/auth"
	"tiktok/config"
	"tiktok/internal/apitest"
	"tiktok/internal/testdb"
)

func TestRegister(t *testing.T) {
	api := apitest.New(t, db)
	taken := api.NewUser("taken")
	long := func(n int, s string) string { return strings.Repeat(s, n) }

	cases := []struct {
		name      string
		body      any
		status    int
		code      string // for errors
		errField  string // the field named in errors, for validation failures
		checkUser func(t *testing.T, u map[string]any)
	}{
		{name: "a valid sign-up creates the user", body: map[string]any{"username": apitest.Unique("new"), "email": apitest.Unique("new") + "@example.com", "password": "12345678"}, status: 201},
		{name: "name is optional and kept", body: map[string]any{"username": apitest.Unique("named"), "email": apitest.Unique("named") + "@example.com", "password": "12345678", "name": "  Ada Lovelace "}, status: 201,
			checkUser: func(t *testing.T, u map[string]any) {
				if u["name"] != "Ada Lovelace" {
					t.Fatalf("name = %v", u["name"])
				}
			}},
		{name: "the signup page's e-mail as username is accepted", body: func() map[string]any {
			e := apitest.Unique("mail") + "@example.com"
			return map[string]any{"username": e, "email": e, "password": "12345678"}
		}(), status: 201},
		{name: "a 72-byte password is accepted", body: map[string]any{"username": apitest.Unique("p72"), "email": apitest.Unique("p72") + "@example.com", "password": long(72, "a")}, status: 201},
		{name: "fields the client may not set are ignored", body: map[string]any{"id": 999999, "followerCount": 1000, "tokenVersion": 7, "username": apitest.Unique("mass"), "email": apitest.Unique("mass") + "@example.com", "password": "12345678"}, status: 201,
			checkUser: func(t *testing.T, u map[string]any) {
				if u["id"] == float64(999999) || u["followerCount"] != float64(0) {
					t.Fatalf("mass assignment: %v", u)
				}
			}},
		{name: "missing username", body: map[string]any{"email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "username too short", body: map[string]any{"username": "ab", "email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "username too long", body: map[string]any{"username": long(31, "a"), "email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "username with a space", body: map[string]any{"username": "bad name", "email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "e-mail-shaped username over 254", body: map[string]any{"username": long(250, "a") + "@example.com", "email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "missing e-mail", body: map[string]any{"username": "someone", "password": "12345678"}, status: 400, code: "validation_failed", errField: "email"},
		{name: "e-mail that does not parse", body: map[string]any{"username": "someone", "email": "not-an-email", "password": "12345678"}, status: 400, code: "validation_failed", errField: "email"},
		{name: "e-mail with a display name", body: map[string]any{"username": "someone", "email": "Eve <eve@example.com>", "password": "12345678"}, status: 400, code: "validation_failed", errField: "email"},
		{name: "password of 7 bytes", body: map[string]any{"username": "someone", "email": "x@example.com", "password": "1234567"}, status: 400, code: "validation_failed", errField: "password"},
		{name: "password of 73 bytes", body: map[string]any{"username": "someone", "email": "x@example.com", "password": long(73, "a")}, status: 400, code: "validation_failed", errField: "password"},
		{name: "name over 50 characters", body: map[string]any{"username": "someone", "email": "x@example.com", "password": "12345678", "name": long(51, "é")}, status: 400, code: "validation_failed", errField: "name"},
		{name: "taken e-mail in another case", body: map[string]any{"username": apitest.Unique("dup"), "email": strings.ToUpper(taken.Email), "password": "12345678"}, status: 409, code: "conflict", errField: "email"},
		{name: "taken username in another case", body: map[string]any{"username": strings.ToUpper(taken.Username), "email": apitest.Unique("dup") + "@example.com", "password": "12345678"}, status: 409, code: "conflict", errField: "username"},
		{name: "malformed JSON", body: `{"username": "x",`, status: 400, code: "invalid_json"},
		{name: "empty body", body: "", status: 400, code: "invalid_json"},
		{name: "a field of the wrong type", body: map[string]any{"username": 12345, "email": "x@example.com", "password": "12345678"}, status: 400, code: "validation_failed", errField: "username"},
		{name: "a body over the cap", body: `{"username": "` + long(2<<20, "a") + `"}`, status: 413, code: "payload_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do("POST", "/api/users/register", tc.body, "")
			if tc.code != "" {
				res.Error(tc.status, tc.code)
				if tc.errField != "" {
					var e struct {
						Errors map[string]string `json:"errors"`
					}
					res.Decode(&e)
					if e.Errors[tc.errField] == "" {
						t.Fatalf("errors = %v, want a reason for %s", e.Errors, tc.errField)
					}
				}
				if want := map[string]string{"email": "Email already in use", "username": "Username already in use"}[tc.errField]; tc.status == 409 && res.Map()["message"] != want {
					t.Fatalf("409 message = %v", res.Map()["message"])
				}
				return
			}
			res.Status(tc.status)
			var out struct {
				Message string         `json:"message"`
				User    map[string]any `json:"user"`
			}
			res.Decode(&out)
			body := tc.body.(map[string]any)
			if out.Message != "User registered successfully" || out.User["email"] != body["email"] || out.User["username"] != body["username"] {
				t.Fatalf("answer = %s", res.Body)
			}
			assertNoPassword(t, res.Body)
			if tc.checkUser != nil {
				tc.checkUser(t, out.User)
			}
		})
	}
}

// TestRegisterTakesAnEmailAsUsernameOnlyWhenItIsYourOwn: an e-mail-shaped username is the
// course signup page sending the registrant's e-mail twice; anyone else's address is refused,
// so nobody can take it and stand where its owner logs in by username.
func TestRegisterTakesAnEmailAsUsernameOnlyWhenItIsYourOwn(t *testing.T) {
	api := apitest.New(t, db)
	victim := api.NewUser("victim")
	register := func(username, email string) *apitest.Response {
		return api.Do("POST", "/api/users/register", map[string]string{"username": username, "email": email, "password": "squatter password"}, "")
	}
	refused := func(t *testing.T, res *apitest.Response) {
		t.Helper()
		res.Error(400, "validation_failed")
		var e struct {
			Errors map[string]string `json:"errors"`
		}
		res.Decode(&e)
		if e.Errors["username"] == "" {
			t.Fatalf("errors = %v, want a reason for username", e.Errors)
		}
	}
	t.Run("someone else's registered e-mail", func(t *testing.T) {
		refused(t, register(victim.Email, apitest.Unique("squat")+"@example.com"))
		refused(t, register(strings.ToUpper(victim.Email), apitest.Unique("squat")+"@example.com"))
	})
	t.Run("an address nobody has registered yet", func(t *testing.T) {
		refused(t, register(apitest.Unique("future")+"@example.com", apitest.Unique("squat")+"@example.com"))
	})
	t.Run("your own e-mail, in any case", func(t *testing.T) {
		own := apitest.Unique("own") + "@example.com"
		register(strings.ToUpper(own), own).Status(201)
	})
	t.Run("a squat made before the rule leads no one into another account", func(t *testing.T) {
		owner := api.NewUser("owner")
		// The squatter's row as the old rule let it in, with the squatter's own password.
		helper := apitest.Unique("helper")
		register(helper, helper+"@example.com").Status(201)
		testdb.MustRun(t, db, `INSERT INTO users (username, email, password) SELECT ?, ?, password FROM users WHERE username = ?`,
			owner.Email, apitest.Unique("squatter")+"@example.com", helper)
		// By username, the address names the squatter's account, whose password the owner
		// does not have; by e-mail it is the owner's own.
		api.Do("POST", "/api/users/login", map[string]string{"username": owner.Email, "password": owner.Password}, "").
			Error(401, "invalid_credentials")
		var out struct {
			User struct {
				ID int32 `json:"id"`
			} `json:"user"`
		}
		api.Do("POST", "/api/users/login", map[string]string{"email": owner.Email, "password": owner.Password}, "").
			Status(200).Decode(&out)
		if out.User.ID != owner.ID {
			t.Fatalf("logged in as user %d, want the owner %d", out.User.ID, owner.ID)
		}
	})
}

func TestLogin(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("login")
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"by e-mail", map[string]string{"email": u.Email, "password": u.Password}, 200, ""},
		{"by e-mail in another case", map[string]string{"email": strings.ToUpper(u.Email), "password": u.Password}, 200, ""},
		{"by username", map[string]string{"username": u.Username, "password": u.Password}, 200, ""},
		{"wrong password", map[string]string{"email": u.Email, "password": "wrong password"}, 401, "invalid_credentials"},
		{"unknown e-mail", map[string]string{"email": "nobody-" + u.Email, "password": u.Password}, 401, "invalid_credentials"},
		{"unknown username", map[string]string{"username": "nobody_" + u.Username, "password": u.Password}, 401, "invalid_credentials"},
		{"no e-mail nor username", map[string]string{"password": u.Password}, 400, "validation_failed"},
		{"no password", map[string]string{"email": u.Email}, 400, "validation_failed"},
		{"password over 72 bytes", map[string]string{"email": u.Email, "password": u.Password + strings.Repeat("x", 72)}, 400, "validation_failed"},
		{"malformed JSON", `{"email":`, 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := api.Do("POST", "/api/users/login", tc.body, "")
			if tc.code != "" {
				res.Error(tc.status, tc.code)
				return
			}
			res.Status(200)
			var out struct {
				Token        string         `json:"token"`
				RefreshToken string         `json:"refreshToken"`
				User         map[string]any `json:"user"`
			}
			res.Decode(&out)
			if out.Token == "" || out.RefreshToken == "" || out.User["email"] != u.Email || out.User["id"] != float64(u.ID) {
				t.Fatalf("answer = %s", res.Body)
			}
			assertNoPassword(t, res.Body)
			api.Do("GET", "/api/users/me", nil, out.Token).Status(200)
		})
	}

	t.Run("unknown account and wrong password answer the same bytes", func(t *testing.T) {
		wrong := api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": "wrong password"}, "")
		unknown := api.Do("POST", "/api/users/login", map[string]string{"email": "x" + u.Email, "password": "wrong password"}, "")
		if string(wrong.Body) != string(unknown.Body) || wrong.Map()["message"] != "Invalid credentials" {
			t.Fatalf("wrong: %s, unknown: %s", wrong.Body, unknown.Body)
		}
	})
}

func TestRegisterRaceOnOneEmailGivesOneCreated(t *testing.T) {
	api := apitest.New(t, db)
	email := apitest.Unique("race") + "@example.com"
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Different usernames, same e-mail in varying case: only the e-mail collides.
			e := email
			if i%2 == 1 {
				e = strings.ToUpper(email)
			}
			codes[i] = api.Do("POST", "/api/users/register", map[string]string{
				"username": apitest.Unique("race"), "email": e, "password": "12345678"}, "").Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("status counts = %v, want one 201 and %d 409", count, n-1)
	}
	if rows := countOf(t, `SELECT count(*) FROM users WHERE lower(email) = lower(?)`, email); rows != 1 {
		t.Fatalf("%d rows for the e-mail", rows)
	}
}

func loginFrom(api *apitest.API, ip string, body any) *apitest.Response {
	req := httptest.NewRequest("POST", "/api/users/login", strings.NewReader(mustJSON(body)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = ip + ":1234"
	return api.Serve(req)
}

func TestLoginRateLimitTripsAndRecovers(t *testing.T) {
	t.Run("failed attempts per account", func(t *testing.T) {
		api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginFailsPerAccount = 3 }))
		u := api.NewUser("locked")
		other := api.NewUser("other")
		bad := map[string]string{"email": u.Email, "password": "wrong password"}
		for i := range 3 {
			loginFrom(api, "10.0.0.1", bad).Error(401, "invalid_credentials")
			_ = i
		}
		// The account is locked, from any address, by e-mail or username, even with the
		// right password.
		loginFrom(api, "10.0.0.2", map[string]string{"username": u.Username, "password": u.Password}).Error(429, "rate_limited")
		res := loginFrom(api, "10.0.0.2", map[string]string{"email": strings.ToUpper(u.Email), "password": u.Password})
		res.Error(429, "rate_limited")
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After = %q", ra)
		}
		// Other accounts are untouched.
		loginFrom(api, "10.0.0.1", map[string]string{"email": other.Email, "password": other.Password}).Status(200)
		api.Clock.Advance(15*time.Minute + time.Second)
		loginFrom(api, "10.0.0.1", map[string]string{"email": u.Email, "password": u.Password}).Status(200)
	})
	t.Run("unknown accounts are limited too", func(t *testing.T) {
		api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginFailsPerAccount = 2 }))
		ghost := map[string]string{"email": apitest.Unique("ghost") + "@example.com", "password": "whatever1"}
		loginFrom(api, "10.0.0.1", ghost).Error(401, "invalid_credentials")
		loginFrom(api, "10.0.0.1", ghost).Error(401, "invalid_credentials")
		loginFrom(api, "10.0.0.1", ghost).Error(429, "rate_limited")
	})
	t.Run("a success clears the failures", func(t *testing.T) {
		api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginFailsPerAccount = 3 }))
		u := api.NewUser("typo")
		for range 2 {
			loginFrom(api, "10.0.0.1", map[string]string{"email": u.Email, "password": "typo typo"}).Status(401)
		}
		loginFrom(api, "10.0.0.1", map[string]string{"email": u.Email, "password": u.Password}).Status(200)
		for range 2 {
			loginFrom(api, "10.0.0.1", map[string]string{"email": u.Email, "password": "typo typo"}).Status(401)
		}
		loginFrom(api, "10.0.0.1", map[string]string{"email": u.Email, "password": u.Password}).Status(200)
	})
	t.Run("every attempt per client IP", func(t *testing.T) {
		api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateLoginPerIP = 5 }))
		u := api.NewUser("perip")
		good := map[string]string{"email": u.Email, "password": u.Password}
		for range 5 {
			loginFrom(api, "10.1.0.1", good).Status(200)
		}
		res := loginFrom(api, "10.1.0.1", good).Error(429, "rate_limited")
		if res.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		loginFrom(api, "10.1.0.2", good).Status(200) // another client is not limited
		api.Clock.Advance(time.Minute + time.Second)
		loginFrom(api, "10.1.0.1", good).Status(200)
	})
	t.Run("registrations per client IP", func(t *testing.T) {
		api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.RateRegisterPerIP = 2 }))
		reg := func() *apitest.Response {
			n := apitest.Unique("reg")
			return api.Do("POST", "/api/users/register", map[string]string{"username": n, "email": n + "@example.com", "password": "12345678"}, "")
		}
		reg().Status(201)
		reg().Status(201)
		reg().Error(429, "rate_limited")
		api.Clock.Advance(time.Minute + time.Second)
		reg().Status(201)
	})
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("refresh")
	first := u.Refresh

	var pair struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refreshToken"`
	}
	api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": first}, "").Status(200).Decode(&pair)
	if pair.Token == "" || pair.RefreshToken == "" || pair.RefreshToken == first {
		t.Fatalf("pair = %+v", pair)
	}
	api.Do("GET", "/api/users/me", nil, pair.Token).Status(200)

	// The second refresh token works once too.
	var pair2 struct {
		Token        string `json:"token"`
		RefreshToken string `json:"refreshToken"`
	}
	api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": pair.RefreshToken}, "").Status(200).Decode(&pair2)
	if pair2.Token == "" || pair2.RefreshToken == "" {
		t.Fatalf("pair2 = %+v", pair2)
	}

	// Presenting the first (spent) token again: theft suspected, the family is revoked.
	api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": first}, "").Error(401, "token_revoked")
	api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": pair2.RefreshToken}, "").Error(401, "token_revoked")

	// Another session (another login) is not affected.
	other := *u
	api.Login(&other)
	api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": other.Refresh}, "").Status(200)

	// The tokens are stored, hashed: the lookup by hash finds them, by clear text nothing.
	if hashed := countOf(t, `SELECT count(*) FROM refresh_tokens WHERE token_hash IN (?, ?)`,
		auth.HashRefreshToken(first), auth.HashRefreshToken(pair.RefreshToken)); hashed != 2 {
		t.Fatalf("%d of the 2 spent refresh tokens found by their hash", hashed)
	}
	if stored := countOf(t, `SELECT count(*) FROM refresh_tokens WHERE token_hash = ? OR token_hash = ?`, first, pair.RefreshToken); stored != 0 {
		t.Fatal("a refresh token is stored in clear")
	}

	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown token", map[string]string{"refreshToken": "not-a-token"}, 401, "token_invalid"},
		{"missing token", map[string]string{}, 400, "validation_failed"},
		{"malformed JSON", "{", 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.Do("POST", "/api/users/refresh", tc.body, "").Error(tc.status, tc.code)
		})
	}
	t.Run("expired token", func(t *testing.T) {
		s := api.NewUser("expired")
		if n := testdb.MustRun(t, db, `UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE user_id = ?`, s.ID); n == 0 {
			t.Fatal("no refresh token to expire")
		}
		api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": s.Refresh}, "").Error(401, "token_expired")
	})
	t.Run("two racing refreshes with one token: one wins", func(t *testing.T) {
		s := api.NewUser("racing")
		codes := make([]int, 5)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() {
				codes[i] = api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": s.Refresh}, "").Code
			})
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == 200 {
				ok++
			} else if c != 401 {
				t.Fatalf("status %d", c)
			}
		}
		if ok != 1 {
			t.Fatalf("%d refreshes succeeded with one token, want 1 (codes %v)", ok, codes)
		}
	})
}

func TestLogout(t *testing.T) {
	api := apitest.New(t, db)

	t.Run("one session", func(t *testing.T) {
		u := api.NewUser("logout")
		laptop := *u
		api.Login(&laptop)
		res := api.Do("POST", "/api/users/logout", map[string]string{"refreshToken": u.Refresh}, u.Token).Status(200)
		if msg, ok := res.Map()["message"].(string); !ok || msg == "" {
			t.Fatalf("no message: %s", res.Body)
		}
		api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": u.Refresh}, "").Error(401, "token_revoked")
		api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": laptop.Refresh}, "").Status(200)
	})
	t.Run("someone else's refresh token is left alone", func(t *testing.T) {
		u, v := api.NewUser("logout"), api.NewUser("victim")
		api.Do("POST", "/api/users/logout", map[string]string{"refreshToken": v.Refresh}, u.Token).Status(200)
		api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": v.Refresh}, "").Status(200)
	})
	t.Run("without a body", func(t *testing.T) {
		u := api.NewUser("logout")
		api.Do("POST", "/api/users/logout", nil, u.Token).Status(200)
	})
	t.Run("everywhere", func(t *testing.T) {
		u := api.NewUser("logoutall")
		phone := *u
		api.Login(&phone)
		api.Do("POST", "/api/users/logout?all=true", nil, u.Token).Status(200)
		for _, s := range []*apitest.User{u, &phone} {
			api.Do("GET", "/api/users/me", nil, s.Token).Error(401, "token_revoked")
			api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": s.Refresh}, "").Error(401, "token_revoked")
		}
		api.Login(u) // a new login works
		api.Do("GET", "/api/users/me", nil, u.Token).Status(200)
	})
	t.Run("needs a token", func(t *testing.T) {
		api.Do("POST", "/api/users/logout", nil, "").Error(401, "token_missing")
	})
}

func TestChangePassword(t *testing.T) {
	api := apitest.New(t, db)
	other := api.NewUser("other")

	t.Run("every earlier token stops working", func(t *testing.T) {
		u := api.NewUser("pw")
		phone := *u
		api.Login(&phone)
		var out struct {
			Message      string `json:"message"`
			Token        string `json:"token"`
			RefreshToken string `json:"refreshToken"`
		}
		api.Do("PUT", apitest.Path("/api/users/%d/password", u.ID),
			map[string]string{"currentPassword": u.Password, "newPassword": "a brand new password"}, u.Token).Status(200).Decode(&out)
		if out.Message == "" || out.Token == "" || out.RefreshToken == "" {
			t.Fatalf("answer = %+v", out)
		}
		for _, s := range []*apitest.User{u, &phone} {
			api.Do("GET", "/api/users/me", nil, s.Token).Error(401, "token_revoked")
			api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": s.Refresh}, "").Error(401, "token_revoked")
		}
		api.Do("GET", "/api/users/me", nil, out.Token).Status(200)
		api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": u.Password}, "").Error(401, "invalid_credentials")
		api.Do("POST", "/api/users/login", map[string]string{"email": u.Email, "password": "a brand new password"}, "").Status(200)
	})

	u := api.NewUser("pw")
	cases := []struct {
		name   string
		path   string
		token  string
		body   any
		status int
		code   string
	}{
		{"wrong current password", apitest.Path("/api/users/%d/password", u.ID), u.Token, map[string]string{"currentPassword": "not it at all", "newPassword": "12345678"}, 400, "validation_failed"},
		{"new password too short", apitest.Path("/api/users/%d/password", u.ID), u.Token, map[string]string{"currentPassword": u.Password, "newPassword": "short"}, 400, "validation_failed"},
		{"new password over 72 bytes", apitest.Path("/api/users/%d/password", u.ID), u.Token, map[string]string{"currentPassword": u.Password, "newPassword": strings.Repeat("x", 73)}, 400, "validation_failed"},
		{"someone else's password", apitest.Path("/api/users/%d/password", other.ID), u.Token, map[string]string{"currentPassword": other.Password, "newPassword": "12345678"}, 403, "forbidden"},
		{"no token", apitest.Path("/api/users/%d/password", u.ID), "", map[string]string{"currentPassword": u.Password, "newPassword": "12345678"}, 401, "token_missing"},
		{"bad id", "/api/users/abc/password", u.Token, map[string]string{"currentPassword": u.Password, "newPassword": "12345678"}, 400, "invalid_id"},
		{"malformed JSON", apitest.Path("/api/users/%d/password", u.ID), u.Token, "{", 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api.Do("PUT", tc.path, tc.body, tc.token).Error(tc.status, tc.code)
		})
	}
	// None of the failures above changed anything.
	api.Do("GET", "/api/users/me", nil, u.Token).Status(200)
	api.Do("POST", "/api/users/login", map[string]string{"email": other.Email, "password": other.Password}, "").Status(200)
}
