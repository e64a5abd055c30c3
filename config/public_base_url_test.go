package config

import (
	"strings"
	"testing"
)

func TestPublicBaseURLDefaultsToLocalhostOnThePort(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://localhost:8000"},
		{map[string]string{"PORT": "3001"}, "http://localhost:3001"},
		{map[string]string{"PUBLIC_BASE_URL": "https://api.example.com/"}, "https://api.example.com"},
		{map[string]string{"PUBLIC_BASE_URL": "https://example.com/tiktok-api//"}, "https://example.com/tiktok-api"},
		{map[string]string{"PUBLIC_BASE_URL": "  http://127.0.0.1:8000  "}, "http://127.0.0.1:8000"},
	} {
		c, err := Load(env(tc.env))
		if err != nil || c.PublicBaseURL != tc.want {
			t.Errorf("%v: PublicBaseURL %q, %v; want %q", tc.env, c.PublicBaseURL, err, tc.want)
		}
	}
}

func TestBadPublicBaseURLStopsTheStartNamingIt(t *testing.T) {
	for _, bad := range []string{
		"localhost:8000", "/api", "ftp://example.com", "https://", "https://example.com/?a=1",
		"https://example.com/#top", "https://example.com?", "https://user:pw@example.com", "http://exa mple.com",
	} {
		_, err := Load(env(map[string]string{"PUBLIC_BASE_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "PUBLIC_BASE_URL") {
			t.Errorf("PUBLIC_BASE_URL=%q: want an error naming it, got %v", bad, err)
		}
	}
}
