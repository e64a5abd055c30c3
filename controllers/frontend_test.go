package controllers_test

import (
	"strings"
	"testing"

	"tiktok/internal/apitest"
)

// The tests of this file pin what the course frontend shows: the Prisma version's texts and
// the places where it reads its fields.

func TestRegisterConflictSaysWhichFieldIsTaken(t *testing.T) {
	api := apitest.New(t, db)
	a, b := api.NewUser("taken_a"), api.NewUser("taken_b")
	fresh := func(p string) string { return apitest.Unique(p) }

	cases := []struct {
		name     string
		username string
		email    string
		message  string
		field    string
	}{
		{"a taken e-mail", fresh("new"), strings.ToUpper(a.Email), "Email already in use", "email"},
		{"a taken username", strings.ToUpper(a.Username), fresh("new") + "@example.com", "Username already in use", "username"},
		// The Prisma version's findFirst compares the e-mail first; so do we, whichever of the
		// two unique indexes PostgreSQL happens to check first.
		{"both taken by one user: the e-mail wins", a.Username, a.Email, "Email already in use", "email"},
		{"both taken by two users: the e-mail wins", a.Username, b.Email, "Email already in use", "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				Message string            `json:"message"`
				Errors  map[string]string `json:"errors"`
			}
			api.Do("POST", "/api/users/register", map[string]string{"username": tc.username, "email": tc.email, "password": "12345678"}, "").
				Error(409, "conflict").Decode(&e)
			if e.Message != tc.message || e.Errors[tc.field] == "" {
				t.Fatalf("message %q, errors %v; want %q naming %s", e.Message, e.Errors, tc.message, tc.field)
			}
		})
	}
}
