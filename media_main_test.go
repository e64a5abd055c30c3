package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"tiktok/config"
)

// Without ffmpeg on PATH the server starts: no pipeline and no queue (uploads are published
// unprocessed), and the log says so once, with what to install.
func TestWithoutFFmpegUploadsArePublishedUnprocessed(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var logs bytes.Buffer
	pipeline, queue, err := newMediaPipeline(config.Config{Workers: 1}, nil, nil, 1, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || pipeline != nil || queue != nil {
		t.Fatalf("newMediaPipeline without ffmpeg = %v, %v, %v; want nothing and no error", pipeline, queue, err)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "apt-get install ffmpeg") ||
		!strings.Contains(logs.String(), "published unprocessed") {
		t.Fatalf("start-up log = %q, want one line saying uploads are published unprocessed and how to install ffmpeg", logs.String())
	}
}
