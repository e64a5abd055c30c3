package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tiktok/auth"
)

func TestIssueThenParseGivesTheClaims(t *testing.T) {
	tok := auth.NewTokens("secret-secret-secret-secret-1234", time.Hour)
	s, err := tok.Issue(42, 3)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tok.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 42 || c.Subject != "42" || c.Version != 3 || c.Issuer != auth.Issuer {
		t.Fatalf("claims = %+v", c)
	}
	if !strings.Contains(string(mustSegment(t, s)), `"id":42`) {
		t.Fatal("id claim is not a JSON number")
	}
}

func mustSegment(t *testing.T, s string) []byte {
	t.Helper()
	b, err := jwt.NewParser().DecodeSegment(strings.Split(s, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTellsExpiredFromInvalid(t *testing.T) {
	tok := auth.NewTokens("secret-secret-secret-secret-1234", time.Minute)
	s, _ := tok.Issue(1, 0)
	tok.Now = func() time.Time { return time.Now().Add(time.Minute + auth.Leeway + time.Second) }
	if _, err := tok.Parse(s); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	tok.Now = func() time.Time { return time.Now().Add(time.Minute + auth.Leeway/2) }
	if _, err := tok.Parse(s); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	if _, err := tok.Parse(s + "x"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestRefreshTokensAreRandomAndStoredHashed(t *testing.T) {
	a, ha := auth.NewRefreshToken()
	b, hb := auth.NewRefreshToken()
	if a == b || ha == hb || ha == a || len(a) < 40 {
		t.Fatalf("tokens %q %q hashes %q %q", a, b, ha, hb)
	}
	if auth.HashRefreshToken(a) != ha {
		t.Fatal("hash is not stable")
	}
}

func TestPasswords(t *testing.T) {
	p, err := auth.NewPasswords(4)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Check(h, "correct horse") || p.Check(h, "wrong horse") || p.CheckDummy("correct horse") {
		t.Fatal("password checks disagree")
	}
}
