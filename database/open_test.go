package database_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"tiktok/database"
	"tiktok/internal/testdb"
)

func TestOpenExplainsWhyItCannotConnect(t *testing.T) {
	_, good := testdb.NewDatabase(t)
	u, _ := url.Parse(good)

	missingDB := *u
	missingDB.Path = "/no_such_database_here"
	missingDB.User = url.UserPassword(u.User.Username(), "s3cret-pw")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	closedPort := *u
	closedPort.Host = "127.0.0.1:" + strconv.Itoa(port)

	cases := []struct {
		name, dsn string
		want      []string
		maxWait   time.Duration
	}{
		{"missing database fails at once, naming it", missingDB.String(),
			[]string{"DATABASE_URL", `database "no_such_database_here" does not exist`, "createdb"}, 2 * time.Second},
		{"nothing listening is retried, then explained", closedPort.String(),
			[]string{"DATABASE_URL", "nothing is listening on 127.0.0.1:" + strconv.Itoa(port)}, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := database.Open(context.Background(), tc.dsn, database.DefaultPool, time.Second, nil)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("the password leaked into the error: %s", err)
			}
			if took := time.Since(start); took > tc.maxWait {
				t.Errorf("took %s", took)
			}
		})
	}
}

func TestMaskURLHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://bob:hunter2@db:5432/app":                   "postgres://bob:xxxxx@db:5432/app",
		"postgres://db/app?user=bob&password=hunter2":          "postgres://db/app?password=xxxxx&user=bob",
		"postgres://postgres@127.0.0.1:5432/x?sslmode=disable": "postgres://postgres@127.0.0.1:5432/x?sslmode=disable",
	} {
		if got := database.MaskURL(in); got != want || strings.Contains(got, "hunter2") {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}
