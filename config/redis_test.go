package config

import (
	"strings"
	"testing"
)

func TestRedisURLIsOptionalAndKeptAsGiven(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.RedisURL != "" {
		t.Fatalf("without REDIS_URL: %q, %v; want in-memory limits (empty)", c.RedisURL, err)
	}
	for _, u := range []string{"redis://127.0.0.1:6379/0", "rediss://:pw@redis.example.com:6380/2", "redis://user:pw@host", "unix:///run/redis.sock?db=1"} {
		c, err := Load(env(map[string]string{"REDIS_URL": u}))
		if err != nil || c.RedisURL != u {
			t.Fatalf("REDIS_URL=%s: got %q, %v", u, c.RedisURL, err)
		}
	}
}

// A refused REDIS_URL stops the start naming the variable, and the message never shows the
// password: not when the URL parses, and not when it is too broken to find the password in.
func TestBadRedisURLStopsTheStartWithoutShowingThePassword(t *testing.T) {
	cases := []struct{ name, value, wantShown string }{
		{"wrong scheme", "http://:s3cr3tpw@127.0.0.1:6379", "http://:xxxxx@127.0.0.1:6379"},
		{"database not a number", "redis://:s3cr3tpw@127.0.0.1:6379/zero", "redis://:xxxxx@127.0.0.1:6379/zero"},
		{"too many path parts", "redis://s3cr3tpw@127.0.0.1/1/2", "redis://xxxxx@127.0.0.1/1/2"},
		{"unparsable", "redis://:s3cr3tpw@127.0.0.1:6379\x7f", ""},
		{"bad port", "redis://:s3cr3tpw@127.0.0.1:port", ""},
		{"slash in the password", "redis://:s3cr3t/pw@127.0.0.1:6379", ""},
		{"unknown option", "redis://:s3cr3tpw@127.0.0.1:6379/0?colour=blue", "redis://:xxxxx@127.0.0.1:6379/0?colour=blue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{"REDIS_URL": tc.value}))
			if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
				t.Fatalf("REDIS_URL=%q: want an error naming REDIS_URL, got %v", tc.value, err)
			}
			if strings.Contains(err.Error(), "s3cr3tpw") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if tc.wantShown != "" && !strings.Contains(err.Error(), tc.wantShown) {
				t.Fatalf("the error should show the URL masked as %s: %v", tc.wantShown, err)
			}
		})
	}
}
