package errs

import (
	"testing"
)

func TestLabelReadsLikeWords(t *testing.T) {
	for field, want := range map[string]string{
		"password":        "Password",
		"currentPassword": "Current password",
		"videoUrl":        "Video URL",
		"thumbnailUrl":    "Thumbnail URL",
		"videoId":         "Video ID",
		"audioName":       "Audio name",
		"refreshToken":    "Refresh token",
		"USERNAME":        "Username",
		"user.name":       "User name",
		"":                "A field",
		"\x00":            "A field",
	} {
		if got := Label(field); got != want {
			t.Errorf("Label(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestValidationFailedNamesTheFirstProblemAndListsAll(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems, yet an error")
	}
	p.Add("newPassword", "must be at least 8 characters")
	p.Add("email", "is required")
	p.Add("newPassword", "must be at most 72 bytes") // a field keeps its first reason
	e := ValidationFailed(p...)
	if e.Message != "New password must be at least 8 characters" || e.Code != CodeValidationFailed || e.Kind != KindInvalid {
		t.Fatalf("error = %+v", e)
	}
	if len(e.Fields) != 2 || e.Fields["newPassword"] != "must be at least 8 characters" || e.Fields["email"] != "is required" {
		t.Fatalf("fields = %v", e.Fields)
	}
}
