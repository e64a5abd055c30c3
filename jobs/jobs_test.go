package jobs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"tiktok/internal/testdb"
	"tiktok/media"
	"tiktok/storage"
	"tiktok/store"
)

var db *gorm.DB

func TestMain(m *testing.M) { testdb.Main(m, &db) }

// storedHEVC stores a small HEVC clip (made by ffmpeg) in a local store and inserts a
// processing video for it; it returns the video's id.
func storedHEVC(t *testing.T, uploads *storage.Local, user string) int32 {
	t.Helper()
	out := filepath.Join(t.TempDir(), "c.mp4")
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15:duration=1",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (apt-get install ffmpeg): %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	obj, err := uploads.Save(context.Background(), f, storage.VideosFolder, 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	return insertVideo(t, user, obj.Name)
}

func insertVideo(t *testing.T, user, path string) int32 {
	t.Helper()
	var uid, vid int32
	if err := db.Raw(`INSERT INTO users (username, email, password) VALUES (?, ? || '@example.com', 'x') RETURNING id`, user, user).
		Scan(&uid).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Raw(`INSERT INTO videos (user_id, video_url, video_storage_path, thumbnail_url, status)
		VALUES (?, '/uploads/' || ?, ?, 'https://cdn.example.com/t.jpg', 'processing') RETURNING id`, uid, path, path).
		Scan(&vid).Error; err != nil {
		t.Fatal(err)
	}
	return vid
}

func status(t *testing.T, id int32) (string, string) {
	t.Helper()
	var rows []struct {
		Status       string
		StatusReason *string
	}
	if err := db.Raw(`SELECT status, status_reason FROM videos WHERE id = ?`, id).Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("video %d: %v", id, err)
	}
	if rows[0].StatusReason == nil {
		return rows[0].Status, ""
	}
	return rows[0].Status, *rows[0].StatusReason
}

func job(id int32, attempt int) *river.Job[ProcessVideo] {
	return &river.Job[ProcessVideo]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: maxAttempts}, Args: ProcessVideo{VideoID: id}}
}

// A transcode that keeps failing is retried (the video stays processing) until the last
// attempt, which fails the video with a reason its owner can read.
func TestFailureAfterTheLastAttemptFailsTheVideo(t *testing.T) {
	tools := media.Lookup()
	if !tools.Available() {
		t.Fatal("ffmpeg and ffprobe are required: apt-get install ffmpeg")
	}
	uploads, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tools.FFmpeg = "/bin/false" // ffprobe reads the file; every ffmpeg run fails
	w := &worker{p: &Processor{Tools: tools, Store: store.New(db), Uploads: uploads, MaxSeconds: 60, MaxOutputBytes: 10 << 20,
		TempDir: t.TempDir()}}
	id := storedHEVC(t, uploads, "retry_user")
	for attempt := 1; attempt < maxAttempts; attempt++ {
		if err := w.Work(context.Background(), job(id, attempt)); err == nil {
			t.Fatalf("attempt %d succeeded with a broken ffmpeg", attempt)
		}
		if st, _ := status(t, id); st != "processing" {
			t.Fatalf("after attempt %d the video is %q, want processing (to be retried)", attempt, st)
		}
	}
	if err := w.Work(context.Background(), job(id, maxAttempts)); err == nil {
		t.Fatal("the last attempt succeeded with a broken ffmpeg")
	}
	if st, reason := status(t, id); st != "failed" || !strings.Contains(reason, "could not be processed") {
		t.Fatalf("after the last attempt: %q %q, want failed with a reason", st, reason)
	}
	var pending int64
	db.Raw(`SELECT count(*) FROM storage_deletes`).Scan(&pending)
	if pending != 0 {
		t.Fatalf("failed attempts left %d outputs noted for the sweep; they store nothing", pending)
	}
}

// A stored file that is not a video fails its video at once: retrying would not help.
func TestAnUnreadableFileFailsAtOnce(t *testing.T) {
	tools := media.Lookup()
	if !tools.Available() {
		t.Fatal("ffmpeg and ffprobe are required: apt-get install ffmpeg")
	}
	dir := t.TempDir()
	uploads, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := "0123456789abcdef0123456789abcdef.mp4"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("\x00\x00\x00\x18ftypisom not really a video"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &worker{p: &Processor{Tools: tools, Store: store.New(db), Uploads: uploads, MaxSeconds: 60, MaxOutputBytes: 10 << 20,
		TempDir: t.TempDir()}}
	id := insertVideo(t, "unreadable_user", name)
	if err := w.Work(context.Background(), job(id, 1)); err != nil {
		t.Fatalf("Work = %v, want nil (nothing to retry)", err)
	}
	if st, reason := status(t, id); st != "failed" || !strings.Contains(reason, "cannot be read") {
		t.Fatalf("video = %q %q, want failed saying the file cannot be read", st, reason)
	}
}
