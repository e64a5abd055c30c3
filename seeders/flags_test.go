package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"tiktok/config"
)

func TestBadFlagsAreRefusedBeforeAnythingIsWritten(t *testing.T) {
	h := newHarness(db, config.EnvDevelopment)
	h.mustRun(t, "-seed", "5")
	before := dump(t, db)

	for _, c := range []struct {
		name   string
		appEnv string
		args   []string
		says   string
	}{
		{"negative users", "", []string{"-users", "-5"}, "-users is -5: sizes cannot be negative"},
		{"negative likes", "", []string{"-users", "10", "-likes", "-1"}, "-likes is -1"},
		{"negative follows", "", []string{"-follows", "-1"}, "-follows is -1"},
		{"more follows than user pairs", "", []string{"-users", "10", "-follows", "91"}, "more than the 90 possible follows among 10 users"},
		{"more likes than user x video pairs", "", []string{"-users", "10", "-videos", "5", "-likes", "51"}, "more than the 50 distinct (user, video) pairs"},
		{"more comment likes than user x comment pairs", "", []string{"-users", "3", "-videos", "1", "-comments", "2", "-comment-likes", "7"}, "more than the 6 distinct (user, comment) pairs"},
		{"comments without videos", "", []string{"-users", "3", "-videos", "0", "-comments", "2", "-likes", "0"}, "needs at least one user and one video"},
		{"videos without users", "", []string{"-users", "0", "-videos", "2"}, "needs at least one user"},
		{"sizes beyond 32 bits", "", []string{"-users", "3000000000"}, "at most 2147483647"},
		{"a size that is not a number", "", []string{"-users", "many"}, "invalid value"},
		{"an unknown flag", "", []string{"-userz", "5"}, "flag provided but not defined"},
		{"a stray argument", "", []string{"scale"}, `unexpected argument "scale"`},
		{"production without -force (sample)", config.EnvProduction, nil, "APP_ENV=production"},
		{"production without -force (scale)", config.EnvProduction, []string{"-users", "100"}, "pass -force"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := c.appEnv
			if env == "" {
				env = config.EnvDevelopment
			}
			h := newHarness(db, env)
			err := h.run(t, c.args...)
			var usage *usageError
			if !errors.As(err, &usage) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("message %q does not say %q", err, c.says)
			}
			if h.connects != 0 {
				t.Error("the database was connected to before the flags were checked")
			}
		})
	}
	if after := dump(t, db); after != before {
		t.Fatalf("a refused command changed the data:\n%s", firstDifference(before, after))
	}
}

func TestProductionSeedsOnlyWithForce(t *testing.T) {
	h := newHarness(db, config.EnvProduction)
	h.mustRun(t, "-force")
	if h.connects != 1 {
		t.Errorf("connected %d times, want 1", h.connects)
	}
	if n := count(t, db, `SELECT count(*) FROM users`); n != 10 {
		t.Errorf("users: got %d, want 10", n)
	}
}

func TestParseFlagsChoosesTheModeAndDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want options
	}{
		{"no flags: sample mode, fixed seed", nil, options{Seed: 42}},
		{"-seed alone stays in sample mode", []string{"-seed", "9"}, options{Seed: 9}},
		{"-scale: the benchmark target", []string{"-scale"}, options{Seed: 42, Scale: true, Users: 100_000, Videos: 1_000_000,
			Comments: 2_000_000, Likes: 10_000_000, CommentLikes: 1_000_000, Follows: 1_000_000}},
		{"-users: the other sizes follow it", []string{"-users", "1000"}, options{Seed: 42, Scale: true, Users: 1000, Videos: 10_000,
			Comments: 20_000, Likes: 100_000, CommentLikes: 10_000, Follows: 10_000}},
		{"given sizes win, zero included", []string{"-users", "10", "-videos", "3", "-likes", "0", "-follows", "90"},
			options{Seed: 42, Scale: true, Users: 10, Videos: 3, Comments: 200, Likes: 0, CommentLikes: 100, Follows: 90}},
		{"derived pair counts stay possible", []string{"-users", "3", "-videos", "1", "-comments", "1"},
			options{Seed: 42, Scale: true, Users: 3, Videos: 1, Comments: 1, Likes: 3, CommentLikes: 3, Follows: 6}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseFlags(c.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
