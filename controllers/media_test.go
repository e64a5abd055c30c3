package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"tiktok/config"
	"tiktok/controllers"
	"tiktok/internal/apitest"
	"tiktok/internal/testsvc"
	"tiktok/jobs"
	"tiktok/media"
	"tiktok/routes"
	"tiktok/storage"
	"tiktok/store"
)

// The media pipeline end to end (API.md, "Media processing"): clips made by ffmpeg here,
// uploaded through the real router, probed, processed by a real River worker on the test
// database, with the local store and with the S3 store on versitygw.

// testTools is ffmpeg as the tests run it: ultrafast renditions, one thread.
func testTools(t testing.TB) media.Tools {
	t.Helper()
	tools := media.Lookup()
	if !tools.Available() {
		t.Fatal("ffmpeg and ffprobe are required by the media tests: apt-get install ffmpeg")
	}
	tools.Threads, tools.Preset = 1, "ultrafast"
	return tools
}

// clip makes a small clip with ffmpeg from lavfi sources (testsrc, sine) and returns its bytes.
func clip(t testing.TB, ext string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip."+ext)
	cmd := exec.Command("ffmpeg", append(append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (apt-get install ffmpeg): %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lavfi(seconds float64, size string, audio bool) []string {
	a := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%s:rate=15:duration=%g", size, seconds)}
	if audio {
		a = append(a, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:duration=%g", seconds))
	}
	return a
}

// h264MoovAtEnd is an H.264/AAC MP4 as cameras write it: the index after the media data.
func h264MoovAtEnd(t testing.TB, seconds float64) []byte {
	return clip(t, "mp4", append(lavfi(seconds, "160x120", true), "-c:v", "libx264", "-preset", "ultrafast",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")...)
}

func vp9WebM(t testing.TB) []byte {
	return clip(t, "webm", append(lavfi(2, "160x120", true), "-c:v", "libvpx-vp9", "-deadline", "realtime",
		"-cpu-used", "8", "-b:v", "100k", "-c:a", "libopus", "-shortest")...)
}

func hevcMP4(t testing.TB, seconds float64, size string) []byte {
	return clip(t, "mp4", append(lavfi(seconds, size, true), "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")...)
}

func proresMOV(t testing.TB) []byte {
	return clip(t, "mov", append(lavfi(2, "160x120", true), "-c:v", "prores_ks", "-profile:v", "0",
		"-c:a", "pcm_s16le", "-shortest")...)
}

func audioOnlyMP4(t testing.TB) []byte {
	return clip(t, "mp4", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac")
}

// mediaEnv is a router with the media pipeline, its store and its worker queue.
type mediaEnv struct {
	api     *apitest.API
	uploads storage.Store
	queue   string
	dir     string // the local store's folder ("" for S3)
	bucket  *testsvc.S3Bucket
}

// newMediaEnv builds the router and starts workers (0: none, the jobs wait) on a queue of
// the test's own, so parallel tests never take each other's jobs.
func newMediaEnv(t *testing.T, s3 bool, workers int, maxSeconds int) *mediaEnv {
	t.Helper()
	tools := testTools(t)
	env := &mediaEnv{queue: "media_" + strings.ToLower(apitest.Unique("q"))}
	if s3 {
		b := testsvc.S3(t)
		st, err := storage.NewS3(context.Background(), b.Options())
		if err != nil {
			t.Fatal(err)
		}
		env.uploads, env.bucket = st, &b
	} else {
		env.dir = t.TempDir()
		st, err := storage.NewLocal(env.dir)
		if err != nil {
			t.Fatal(err)
		}
		env.uploads = st
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	proc := &jobs.Processor{Tools: tools, Store: store.New(db), Uploads: env.uploads, MaxSeconds: float64(maxSeconds),
		MaxOutputBytes: 64 << 20, TempDir: t.TempDir()}
	q, err := jobs.New(sqlDB, proc, jobs.Options{Workers: workers, Queue: env.queue, JobTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	env.api = apitest.New(t, db, func(c *config.Config, d *routes.Deps) {
		if env.dir != "" {
			c.UploadDir = env.dir
		}
		d.Store = env.uploads
		d.Media = &controllers.MediaPipeline{Tools: tools, MaxSeconds: float64(maxSeconds), Jobs: q}
	})
	return env
}

type videoState struct {
	ID           int32
	Status       string
	StatusReason *string
	VideoURL     string
	ThumbnailURL *string
	VideoPath    *string
	ThumbPath    *string
	Duration     *float64
	Width        *int32
	Height       *int32
}

func readVideo(t testing.TB, id int32) (videoState, bool) {
	t.Helper()
	var rows []videoState
	if err := db.Raw(`SELECT id, status, status_reason, video_url, thumbnail_url, video_storage_path AS video_path,
		thumbnail_storage_path AS thumb_path, duration, width, height FROM videos WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return videoState{}, false
	}
	return rows[0], true
}

// jobState is the state of video id's job in River's table ("" for none).
func jobState(t testing.TB, id int32) string {
	t.Helper()
	var states []string
	if err := db.Raw(`SELECT state::text FROM river_job WHERE kind = 'process_video' AND (args->>'video_id')::int = ?
		ORDER BY id DESC LIMIT 1`, id).Scan(&states).Error; err != nil {
		t.Fatal(err)
	}
	if len(states) == 0 {
		return ""
	}
	return states[0]
}

// waitJob waits until video id's job has completed.
func waitJob(t testing.TB, id int32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		state := jobState(t, id)
		if state == "completed" {
			return
		}
		if state == "" || state == "discarded" || state == "cancelled" {
			t.Fatalf("job of video %d is %q, want completed", id, state)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job of video %d still %q after %s", id, state, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetch reads a stored file: from the disk, or from the bucket.
func (e *mediaEnv) fetch(t testing.TB, name string) []byte {
	t.Helper()
	src, err := storage.Source(context.Background(), e.uploads, name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if e.dir != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("stored file %s: %v", name, err)
		}
		return b
	}
	res, err := http.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stored object %s: %s", name, res.Status)
	}
	return buf.Bytes()
}

// probeStored runs ffprobe on a stored file.
func (e *mediaEnv) probeStored(t testing.TB, name string) media.Info {
	t.Helper()
	src, err := storage.Source(context.Background(), e.uploads, name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	info, err := testTools(t).Probe(context.Background(), src, 0)
	if err != nil {
		t.Fatalf("ffprobe of stored %s: %v", name, err)
	}
	return info
}

// storedNames lists the files of the store (keys of the bucket).
func (e *mediaEnv) storedNames(t testing.TB) []string {
	t.Helper()
	if e.dir != "" {
		var names []string
		_ = filepath.WalkDir(e.dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(e.dir, p)
				names = append(names, rel)
			}
			return nil
		})
		return names
	}
	var names []string
	for o := range e.bucket.Client.ListObjects(context.Background(), e.bucket.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		names = append(names, o.Key)
	}
	return names
}

type uploaded struct {
	ID           int32    `json:"id"`
	Status       string   `json:"status"`
	StatusReason *string  `json:"statusReason"`
	Duration     *float64 `json:"duration"`
	Width        *int32   `json:"width"`
	Height       *int32   `json:"height"`
	ThumbnailURL *string  `json:"thumbnailUrl"`
	VideoURL     string   `json:"videoUrl"`
}

func (e *mediaEnv) upload(t testing.TB, token, filename string, data []byte) *apitest.Response {
	t.Helper()
	return upload(e.api, token, formPart{field: "video", filename: filename, data: data},
		formPart{field: "caption", data: []byte("clip #mediatest")})
}

// moovFirst reports whether an MP4's moov box comes before its mdat box.
func moovFirst(t testing.TB, b []byte) bool {
	t.Helper()
	after, err := media.MoovAfterMdat(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return !after
}

func TestMediaPipeline(t *testing.T) {
	for _, s3 := range []bool{false, true} {
		name := "local"
		if s3 {
			name = "s3"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testMediaPipeline(t, s3)
		})
	}
}

func testMediaPipeline(t *testing.T, s3 bool) {
	env := newMediaEnv(t, s3, 1, 3)
	owner := env.api.NewUser("media")
	other := env.api.NewUser("viewer")

	t.Run("H.264 MP4 with its index at the end is ready at once, then gets faststart and a cover", func(t *testing.T) {
		data := h264MoovAtEnd(t, 2)
		if moovFirst(t, data) {
			t.Fatal("the test clip should have its index at the end")
		}
		var v uploaded
		env.upload(t, owner.Token, "a.mp4", data).Status(http.StatusCreated).Decode(&v)
		if v.Status != "ready" || v.Duration == nil || *v.Duration < 1.9 || v.Width == nil || *v.Width != 160 || *v.Height != 120 {
			t.Fatalf("upload = %+v, want ready, 2 s, 160x120", v)
		}
		waitJob(t, v.ID, time.Minute)
		row, _ := readVideo(t, v.ID)
		if row.Status != "ready" || row.ThumbnailURL == nil || row.ThumbPath == nil {
			t.Fatalf("after the job: %+v, want ready with a cover", row)
		}
		if !moovFirst(t, env.fetch(t, *row.VideoPath)) {
			t.Fatal("the stored MP4 still has its index after its media data")
		}
		if cover := env.fetch(t, *row.ThumbPath); !bytes.HasPrefix(cover, []byte{0xFF, 0xD8, 0xFF}) {
			t.Fatalf("the cover is not a JPEG: % x", cover[:min(8, len(cover))])
		}
		if info := env.probeStored(t, *row.VideoPath); info.VideoCodec != "h264" {
			t.Fatalf("faststart changed the codec: %+v", info)
		}
	})

	t.Run("VP9 WebM is ready at once", func(t *testing.T) {
		var v uploaded
		env.upload(t, owner.Token, "b.webm", vp9WebM(t)).Status(http.StatusCreated).Decode(&v)
		if v.Status != "ready" {
			t.Fatalf("status %q, want ready", v.Status)
		}
		waitJob(t, v.ID, time.Minute) // its cover
		row, _ := readVideo(t, v.ID)
		if !strings.HasSuffix(v.VideoURL, row.VideoURL) || row.ThumbnailURL == nil {
			t.Fatalf("after the job: %+v, want the same file and a cover", row)
		}
	})

	for _, tc := range []struct {
		name, file string
		data       func(testing.TB) []byte
		codec      string
	}{
		{"HEVC MP4", "c.mp4", func(t testing.TB) []byte { return hevcMP4(t, 2, "160x120") }, "hevc"},
		{"ProRes MOV", "d.mov", proresMOV, "prores"},
	} {
		t.Run(tc.name+" is processing until its H.264 rendition replaces it", func(t *testing.T) {
			data := tc.data(t)
			var v uploaded
			env.upload(t, owner.Token, tc.file, data).Status(http.StatusCreated).Decode(&v)
			if v.Status != "processing" {
				t.Fatalf("status %q, want processing", v.Status)
			}
			// Nobody else sees it yet; its owner does, with its status.
			if got := env.api.Do("GET", fmt.Sprintf("/api/videos/%d", v.ID), nil, other.Token); got.Code != http.StatusNotFound {
				t.Fatalf("another user reads a processing video: %d", got.Code)
			}
			waitJob(t, v.ID, time.Minute)
			row, _ := readVideo(t, v.ID)
			if row.Status != "ready" || strings.HasSuffix(v.VideoURL, row.VideoURL) || !strings.HasSuffix(*row.VideoPath, ".mp4") {
				t.Fatalf("after the job: %+v, want ready with a new MP4", row)
			}
			info := env.probeStored(t, *row.VideoPath)
			if info.VideoCodec != "h264" || info.AudioCodec != "aac" || !info.WebPlayable("mp4") {
				t.Fatalf("rendition = %+v, want H.264/AAC", info)
			}
			if !moovFirst(t, env.fetch(t, *row.VideoPath)) {
				t.Fatal("the rendition's index is not first")
			}
			env.api.Do("GET", fmt.Sprintf("/api/videos/%d", v.ID), nil, other.Token).Status(http.StatusOK)
			// The original is replaced: noted for deletion once its grace period ends.
			var noted int64
			db.Raw(`SELECT count(*) FROM storage_deletes WHERE storage_path = ?`, originalPath(v.VideoURL, env)).Scan(&noted)
			if noted != 1 {
				t.Fatalf("the replaced original is not noted for deletion")
			}
		})
	}

	for _, tc := range []struct {
		name, file string
		data       func(testing.TB) []byte
		status     int
		reason     string
	}{
		{"an audio-only MP4", "e.mp4", audioOnlyMP4, http.StatusUnsupportedMediaType, "no video stream"},
		{"a truncated MP4", "f.mp4", func(t testing.TB) []byte { d := h264MoovAtEnd(t, 2); return d[:len(d)*2/3] },
			http.StatusUnsupportedMediaType, "cannot be read"},
		{"a clip one second over MAX_VIDEO_SECONDS", "g.mp4", func(t testing.TB) []byte { return h264MoovAtEnd(t, 4) },
			http.StatusBadRequest, "at most 3 seconds"},
	} {
		t.Run(tc.name+" is refused before any row or file exists", func(t *testing.T) {
			before := len(env.storedNames(t))
			var count0 int64
			db.Raw(`SELECT count(*) FROM videos WHERE user_id = ?`, owner.ID).Scan(&count0)
			res := env.upload(t, owner.Token, tc.file, tc.data(t))
			if res.Code != tc.status || !strings.Contains(string(res.Body), tc.reason) {
				t.Fatalf("upload = %d %s, want %d saying %q", res.Code, res.Body, tc.status, tc.reason)
			}
			var count1 int64
			db.Raw(`SELECT count(*) FROM videos WHERE user_id = ?`, owner.ID).Scan(&count1)
			if count1 != count0 || len(env.storedNames(t)) != before {
				t.Fatalf("a refused upload left a row (%d -> %d) or a file (%d -> %d)", count0, count1, before, len(env.storedNames(t)))
			}
		})
	}

	t.Run("a video deleted while its job runs leaves no file", func(t *testing.T) {
		owner := env.api.NewUser("deleter")
		var v uploaded
		env.upload(t, owner.Token, "h.mp4", hevcMP4(t, 3, "640x360")).Status(http.StatusCreated).Decode(&v)
		deadline := time.Now().Add(30 * time.Second)
		for jobState(t, v.ID) != "running" {
			if time.Now().After(deadline) {
				t.Fatal("the job never ran")
			}
			time.Sleep(5 * time.Millisecond)
		}
		env.api.Do("DELETE", fmt.Sprintf("/api/videos/%d", v.ID), nil, owner.Token).Status(http.StatusOK)
		waitJob(t, v.ID, time.Minute)
		if _, ok := readVideo(t, v.ID); ok {
			t.Fatal("the video is back")
		}
		for _, n := range env.storedNames(t) {
			if used := referenced(t, n); !used {
				t.Fatalf("file %s is left behind with no row", n)
			}
		}
	})

	t.Run("the owner's list shows processing and failed videos; others see ready ones", func(t *testing.T) {
		owner := env.api.NewUser("lister")
		var ready, failed uploaded
		env.upload(t, owner.Token, "i.mp4", h264MoovAtEnd(t, 1)).Status(http.StatusCreated).Decode(&ready)
		env.upload(t, owner.Token, "j.mp4", hevcMP4(t, 1, "160x120")).Status(http.StatusCreated).Decode(&failed)
		waitJob(t, ready.ID, time.Minute)
		waitJob(t, failed.ID, time.Minute)
		reason := "The video could not be processed; please upload it again"
		db.Exec(`UPDATE videos SET status = 'failed', status_reason = ? WHERE id = ?`, reason, failed.ID)
		var own, theirs struct{ Videos []uploaded }
		env.api.Do("GET", fmt.Sprintf("/api/users/%d/videos", owner.ID), nil, owner.Token).Status(http.StatusOK).Decode(&own)
		env.api.Do("GET", fmt.Sprintf("/api/users/%d/videos", owner.ID), nil, other.Token).Status(http.StatusOK).Decode(&theirs)
		if len(own.Videos) != 2 || own.Videos[0].Status != "failed" || own.Videos[0].StatusReason == nil || *own.Videos[0].StatusReason != reason {
			t.Fatalf("owner's list = %+v, want both, the failed one with its reason", own.Videos)
		}
		if len(theirs.Videos) != 1 || theirs.Videos[0].ID != ready.ID || theirs.Videos[0].StatusReason != nil {
			t.Fatalf("another user's view = %+v, want the ready one only", theirs.Videos)
		}
		var feed struct{ Videos []uploaded }
		env.api.Do("GET", "/api/videos?limit=50", nil, "").Status(http.StatusOK).Decode(&feed)
		for _, fv := range feed.Videos {
			if fv.ID == failed.ID {
				t.Fatal("the latest feed lists a failed video")
			}
		}
		var tag struct{ Videos []uploaded }
		env.api.Do("GET", "/api/hashtags/mediatest/videos?limit=50", nil, "").Status(http.StatusOK).Decode(&tag)
		for _, tv := range tag.Videos {
			if tv.ID == failed.ID {
				t.Fatal("the tag page lists a failed video")
			}
		}
	})
}

// originalPath is the storage path behind the URL an upload answered with.
func originalPath(u string, e *mediaEnv) string {
	if i := strings.Index(u, "/uploads/"); i >= 0 {
		return u[i+len("/uploads/"):]
	}
	if i := strings.Index(u, "/videos/"); i >= 0 {
		return u[i+1:]
	}
	return u
}

// referenced reports whether a row points at the stored file called name, or it is noted for
// the sweep.
func referenced(t testing.TB, name string) bool {
	t.Helper()
	var n int64
	if err := db.Raw(`SELECT count(*) FROM (SELECT 1 FROM videos WHERE video_storage_path = @n OR thumbnail_storage_path = @n
		UNION ALL SELECT 1 FROM storage_deletes WHERE storage_path = @n) x`, map[string]any{"n": name}).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// /readyz says whether uploads are processed; without a pipeline (no ffmpeg) an upload is
// published as it is: ready, nothing probed.
func TestReadyzReportsTheMediaPipeline(t *testing.T) {
	env := newMediaEnv(t, false, 0, 60)
	var on, off map[string]any
	env.api.Do("GET", "/readyz", nil, "").Status(http.StatusOK).Decode(&on)
	plain := apitest.New(t, db)
	plain.Do("GET", "/readyz", nil, "").Status(http.StatusOK).Decode(&off)
	if on["media"] != "ok" || !strings.Contains(fmt.Sprint(off["media"]), "ffmpeg missing") || off["status"] != "ok" {
		t.Fatalf("/readyz with ffmpeg = %v, without = %v", on, off)
	}
	owner := plain.NewUser("noffmpeg")
	var v uploaded
	upload(plain, owner.Token, formPart{field: "video", filename: "a.mp4", data: smallMP4(100)}).Status(http.StatusCreated).Decode(&v)
	if v.Status != "ready" || v.Duration != nil || v.Width != nil || v.ThumbnailURL != nil {
		t.Fatalf("upload without the pipeline = %+v, want ready and unprobed", v)
	}
	if state := jobState(t, v.ID); state != "" {
		t.Fatalf("a job was enqueued without the pipeline: %q", state)
	}
}

// A direct upload is probed when it is registered (through a signed GET URL in the bucket):
// a bad file is refused before any row exists and stays unregistered (for the sweep); a good
// one is processed like a multipart upload.
func TestMediaDirectUploadRegistration(t *testing.T) {
	for _, s3 := range []bool{false, true} {
		name := "local"
		if s3 {
			name = "s3"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := newMediaEnv(t, s3, 1, 3)
			srv := httptest.NewServer(env.api.Router)
			t.Cleanup(srv.Close)
			direct := &directAPI{API: env.api, server: srv.URL}
			owner := env.api.NewUser("direct")

			for _, bad := range []struct {
				data   []byte
				status int
				reason string
			}{
				{audioOnlyMP4(t), http.StatusUnsupportedMediaType, "no video stream"},
				{h264MoovAtEnd(t, 4), http.StatusBadRequest, "at most 3 seconds"},
			} {
				path := direct.upload(owner, "video", "video/mp4", bad.data)
				res := env.api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path}, owner.Token)
				if res.Code != bad.status || !strings.Contains(string(res.Body), bad.reason) {
					t.Fatalf("registering %s = %d %s, want %d saying %q", path, res.Code, res.Body, bad.status, bad.reason)
				}
				var registered int64
				db.Raw(`SELECT count(*) FROM uploads WHERE storage_path = ? AND registered_at IS NOT NULL`, path).Scan(&registered)
				var rows int64
				db.Raw(`SELECT count(*) FROM videos WHERE video_storage_path = ?`, path).Scan(&rows)
				if registered != 0 || rows != 0 {
					t.Fatalf("a refused registration left the upload registered (%d) or a row (%d)", registered, rows)
				}
			}

			path := direct.upload(owner, "video", "video/mp4", hevcMP4(t, 2, "160x120"))
			var v uploaded
			env.api.Do("POST", "/api/videos", map[string]any{"videoStoragePath": path}, owner.Token).Status(http.StatusCreated).Decode(&v)
			if v.Status != "processing" || v.Width == nil || *v.Width != 160 {
				t.Fatalf("registered HEVC = %+v, want processing, 160 wide", v)
			}
			waitJob(t, v.ID, time.Minute)
			row, _ := readVideo(t, v.ID)
			if row.Status != "ready" || *row.VideoPath == path || row.ThumbPath == nil {
				t.Fatalf("after the job: %+v, want ready with a rendition and a cover", row)
			}
			if info := env.probeStored(t, *row.VideoPath); info.VideoCodec != "h264" {
				t.Fatalf("rendition = %+v", info)
			}
		})
	}
}
