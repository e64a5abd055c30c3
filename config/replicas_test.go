package config

import (
	"strings"
	"testing"
	"time"
)

func TestReplicasAreOffByDefault(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DatabaseReplicaURLs) != 0 || c.ReplicaMaxLag != 5*time.Second {
		t.Fatalf("replicas %v, max lag %s; want none and 5s", c.DatabaseReplicaURLs, c.ReplicaMaxLag)
	}
}

func TestReplicaURLsAreReadInOrder(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_REPLICA_URLS": " postgres://r@replica1:5432/tiktok , postgresql://r:pw@replica2/tiktok?sslmode=disable",
		"REPLICA_MAX_LAG":       "750ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"postgres://r@replica1:5432/tiktok", "postgresql://r:pw@replica2/tiktok?sslmode=disable"}
	if strings.Join(c.DatabaseReplicaURLs, "|") != strings.Join(want, "|") || c.ReplicaMaxLag != 750*time.Millisecond {
		t.Fatalf("got %v and %s", c.DatabaseReplicaURLs, c.ReplicaMaxLag)
	}
}

func TestBadReplicaSettingsNameTheVariableAndHideThePassword(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"not a postgres URL", "DATABASE_REPLICA_URLS", "mysql://u:topsecret@h/db", "entry 1 must start with postgres://"},
		{"second entry bad", "DATABASE_REPLICA_URLS", "postgres://h/db,http://u:topsecret@h", "entry 2 must start with postgres://"},
		{"empty entry", "DATABASE_REPLICA_URLS", "postgres://h/db,,postgres://h2/db", "entry 2 is empty"},
		{"no host", "DATABASE_REPLICA_URLS", "postgres:///db?password=topsecret", "entry 1 names no host"},
		{"broken URL", "DATABASE_REPLICA_URLS", "postgres://u:topsecret@h:port/db", "entry 1 is not a valid URL"},
		{"lag without unit", "REPLICA_MAX_LAG", "5", "REPLICA_MAX_LAG"},
		{"zero lag", "REPLICA_MAX_LAG", "0s", "REPLICA_MAX_LAG"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.key: tc.value}))
			if err == nil {
				t.Fatalf("%s=%q was accepted", tc.key, tc.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q should name %s and say %q", msg, tc.key, tc.want)
			}
			if strings.Contains(msg, "topsecret") {
				t.Fatalf("error %q shows the password", msg)
			}
		})
	}
}
