package controllers_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tiktok/auth"
	"tiktok/internal/apitest"
)

// claimsFor are valid claims for u, which each attack then breaks in one way.
func claimsFor(u *apitest.User) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"id": u.ID, "sub": strconv.Itoa(int(u.ID)), "ver": 0,
		"iss": auth.Issuer, "aud": auth.Audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hmacWithHeader signs header.payload with HMAC-SHA256 whatever the header claims: the
// "RS256 with the secret as the key" algorithm-confusion attack.
func hmacWithHeader(header string, claims jwt.MapClaims, secret string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(mustJSON(claims)))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestTokenAttacks(t *testing.T) {
	api := apitest.New(t, db)
	u := api.NewUser("victim")
	other := api.NewUser("attacker")
	secret := []byte(apitest.Secret)
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := claimsFor(u)
		edit(c)
		return c
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(u)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// Tampered: the victim's valid signature on the attacker's payload.
	parts := strings.Split(other.Token, ".")
	victimPayload := strings.Split(u.Token, ".")[1]
	tampered := parts[0] + "." + victimPayload + "." + parts[2]

	cases := []struct {
		name   string
		header string
		code   string
	}{
		{"alg none", "Bearer " + none, "token_invalid"},
		{"HS384 with the same secret", "Bearer " + sign(t, jwt.SigningMethodHS384, claimsFor(u), secret), "token_invalid"},
		{"HS512 with the same secret", "Bearer " + sign(t, jwt.SigningMethodHS512, claimsFor(u), secret), "token_invalid"},
		{"RS256 header, secret as HMAC key", "Bearer " + hmacWithHeader(`{"alg":"RS256","typ":"JWT"}`, claimsFor(u), apitest.Secret), "token_invalid"},
		{"tampered payload", "Bearer " + tampered, "token_invalid"},
		{"signed with another secret", "Bearer " + sign(t, jwt.SigningMethodHS256, claimsFor(u), []byte("another-secret-another-secret-123")), "token_invalid"},
		{"no exp", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { delete(c, "exp") }), secret), "token_invalid"},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), secret), "token_expired"},
		{"wrong iss", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }), secret), "token_invalid"},
		{"wrong aud", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["aud"] = "another-app" }), secret), "token_invalid"},
		{"id and sub disagree", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["sub"] = strconv.Itoa(int(other.ID)) }), secret), "token_invalid"},
		{"id as a string", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["id"] = strconv.Itoa(int(u.ID)) }), secret), "token_invalid"},
		{"old token version", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["ver"] = 5 }), secret), "token_revoked"},
		{"issued in the future", "Bearer " + sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), secret), "token_invalid"},
		{"garbage", "Bearer not.a.jwt", "token_invalid"},
		{"no header", "", "token_missing"},
		{"scheme alone", "Bearer", "token_missing"},
		{"scheme and spaces", "Bearer   ", "token_missing"},
		{"Basic scheme", "Basic x", "token_invalid"},
		{"two tokens", "Bearer " + u.Token + " " + u.Token, "token_invalid"},
		{"token without scheme", u.Token, "token_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.header != "" {
				headers = append(headers, "Authorization: "+tc.header)
			}
			res := api.Do("GET", "/api/users/me", nil, "", headers...).Error(401, tc.code)
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("the scheme word in any case, extra spaces tolerated", func(t *testing.T) {
		for _, h := range []string{"bearer " + u.Token, "BEARER " + u.Token, "BeArEr " + u.Token, "Bearer    " + u.Token + "   "} {
			api.Do("GET", "/api/users/me", nil, "", "Authorization: "+h).Status(200)
		}
	})
	t.Run("expired by the clock, then refreshable", func(t *testing.T) {
		s := api.NewUser("clock")
		api.Clock.Advance(api.Config.JWTExpiresIn + auth.Leeway + time.Second)
		defer api.Clock.Advance(-(api.Config.JWTExpiresIn + auth.Leeway + time.Second))
		api.Do("GET", "/api/users/me", nil, s.Token).Error(401, "token_expired")
	})
	t.Run("a deleted user's token", func(t *testing.T) {
		s := api.NewUser("deleted")
		api.Do("DELETE", apitest.Path("/api/users/%d", s.ID), nil, s.Token).Status(200)
		api.Do("GET", "/api/users/me", nil, s.Token).Error(401, "token_revoked")
		api.Do("POST", "/api/users/refresh", map[string]string{"refreshToken": s.Refresh}, "").Error(401, "token_invalid")
	})
	t.Run("a token from before a password change", func(t *testing.T) {
		s := api.NewUser("pwchange")
		api.Do("PUT", apitest.Path("/api/users/%d/password", s.ID),
			map[string]string{"currentPassword": s.Password, "newPassword": "another password"}, s.Token).Status(200)
		api.Do("GET", "/api/users/me", nil, s.Token).Error(401, "token_revoked")
	})
	t.Run("public routes ignore a bad token and say so", func(t *testing.T) {
		res := api.Do("GET", apitest.Path("/api/users/%d", u.ID), nil, "", "Authorization: Bearer "+none).Status(200)
		if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Fatalf("WWW-Authenticate = %q", got)
		}
		if m := res.Map(); m["email"] != nil || m["isFollowing"] != false {
			t.Fatalf("answered as the victim: %s", res.Body)
		}
		ok := api.Do("GET", apitest.Path("/api/users/%d", u.ID), nil, other.Token).Status(200)
		if ok.Header.Get("WWW-Authenticate") != "" {
			t.Fatal("WWW-Authenticate on a valid token")
		}
	})
}

// TestWritesThatCheckTheTokenInTheirStatementRefuseEveryBadToken: the likes, bookmarks,
// follows and new comments check the token's version in their own statement
// (middleware.RequireToken), not before it. Each refuses each kind of bad token as every other
// route does (the same status, code and WWW-Authenticate) and writes nothing; the fresh token
// still works on each.
func TestWritesThatCheckTheTokenInTheirStatementRefuseEveryBadToken(t *testing.T) {
	api := apitest.New(t, db)
	author, fan := api.NewUser("author"), api.NewUser("fan")
	v := postVideo(api, author, "guarded")
	cm := postComment(api, author, v.ID, "guarded comment")
	writes := []struct{ method, path string }{
		{"POST", apitest.Path("/api/videos/%d/like", v.ID)},
		{"DELETE", apitest.Path("/api/videos/%d/like", v.ID)},
		{"POST", apitest.Path("/api/videos/%d/bookmark", v.ID)},
		{"DELETE", apitest.Path("/api/videos/%d/bookmark", v.ID)},
		{"POST", apitest.Path("/api/users/%d/follow", author.ID)},
		{"DELETE", apitest.Path("/api/users/%d/follow", author.ID)},
		{"POST", apitest.Path("/api/comments/%d/like", cm.ID)},
		{"DELETE", apitest.Path("/api/comments/%d/like", cm.ID)},
		{"POST", "/api/comments"},
	}
	body := func(path string) any {
		if path == "/api/comments" {
			return map[string]any{"videoId": v.ID, "content": "hello @" + author.Username}
		}
		return nil
	}
	written := func() (n int64) {
		t.Helper()
		err := db.Raw(`SELECT (SELECT count(*) FROM video_likes WHERE video_id = ?) + (SELECT count(*) FROM video_bookmarks WHERE video_id = ?)
			+ (SELECT count(*) FROM follows WHERE following_id = ?) + (SELECT count(*) FROM comment_likes WHERE comment_id = ?)
			+ (SELECT count(*) FROM comments WHERE video_id = ?) + (SELECT count(*) FROM notifications WHERE user_id = ?)`,
			v.ID, v.ID, author.ID, cm.ID, v.ID, author.ID).Scan(&n).Error
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The fan has liked, bookmarked and followed already, so that a refused unlike, unbookmark
	// or unfollow would have something to take away.
	api.Do("POST", apitest.Path("/api/videos/%d/like", v.ID), nil, fan.Token).Status(http.StatusOK)
	api.Do("POST", apitest.Path("/api/videos/%d/bookmark", v.ID), nil, fan.Token).Status(http.StatusOK)
	api.Do("POST", apitest.Path("/api/users/%d/follow", author.ID), nil, fan.Token).Status(http.StatusOK)
	api.Do("POST", apitest.Path("/api/comments/%d/like", cm.ID), nil, fan.Token).Status(http.StatusOK)
	before := written()

	// The fan's own token, made bad in each way; the old version is the fan's real one of
	// before a password change, the deleted user's a real token of a user deleted since.
	secret := []byte(apitest.Secret)
	fanClaims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := claimsFor(fan)
		edit(c)
		return c
	}
	changed := api.NewUser("pwchange")
	api.Do("PUT", apitest.Path("/api/users/%d/password", changed.ID),
		map[string]string{"currentPassword": changed.Password, "newPassword": "another password"}, changed.Token).Status(200)
	deleted := api.NewUser("deleted")
	api.Do("DELETE", apitest.Path("/api/users/%d", deleted.ID), nil, deleted.Token).Status(200)
	bad := []struct{ name, header, code string }{
		{"no header", "", "token_missing"},
		{"scheme alone", "Bearer", "token_missing"},
		{"garbage", "Bearer not.a.jwt", "token_invalid"},
		{"signed with another secret", "Bearer " + sign(t, jwt.SigningMethodHS256, claimsFor(fan), []byte("another-secret-another-secret-123")), "token_invalid"},
		{"HS512 with the same secret", "Bearer " + sign(t, jwt.SigningMethodHS512, claimsFor(fan), secret), "token_invalid"},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, fanClaims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), secret), "token_expired"},
		{"another token version", "Bearer " + sign(t, jwt.SigningMethodHS256, fanClaims(func(c jwt.MapClaims) { c["ver"] = 5 }), secret), "token_revoked"},
		{"from before a password change", "Bearer " + changed.Token, "token_revoked"},
		{"of a deleted user", "Bearer " + deleted.Token, "token_revoked"},
	}
	for _, w := range writes {
		for _, b := range bad {
			var headers []string
			if b.header != "" {
				headers = append(headers, "Authorization: "+b.header)
			}
			res := api.Do(w.method, w.path, body(w.path), "", headers...).Error(401, b.code)
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s with a token %s: WWW-Authenticate = %q", w.method, w.path, b.name, res.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if after := written(); after != before {
		t.Fatalf("refused writes changed %d rows", after-before)
	}
	for _, w := range writes {
		want := http.StatusOK
		if w.path == "/api/comments" {
			want = http.StatusCreated
		}
		api.Do(w.method, w.path, body(w.path), fan.Token).Status(want)
	}
	// The like, the bookmark, the follow and the comment's like (each with its notification
	// but the bookmark) are taken back: 7 rows fewer. The comment stays, with one notification
	// of its video's owner ("comment", which its mention of the owner does not repeat).
	if after := written(); after != before-7+2 {
		t.Fatalf("the fan's writes changed %d rows, want -5 (7 taken back, the comment and its notification added)", after-before)
	}
}
