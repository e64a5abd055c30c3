package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tiktok/database"
	"tiktok/internal/testdb"
	"tiktok/jobs"
	"tiktok/media"
	"tiktok/storage"
	"tiktok/store"
)

// A worker process killed mid-transcode (SIGKILL: no clean-up of its own) leaves its job
// running in River's table; a worker started again takes it up once it is overdue and the job
// completes. The worker is this test binary started again in worker mode (runTestWorker).

const testWorkerEnv = "MEDIA_TEST_WORKER_DSN"

// runTestWorker runs media jobs of the queue named in the environment until killed. TestMain
// calls it when testWorkerEnv is set.
func runTestWorker() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	gdb, err := database.Open(ctx, os.Getenv(testWorkerEnv), database.PoolOptions{MaxOpenConns: 4, MaxIdleConns: 2}, 10*time.Second, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var uploads storage.Store
	if opts := os.Getenv("MEDIA_TEST_WORKER_S3"); opts != "" {
		var o storage.S3Options
		if err := json.Unmarshal([]byte(opts), &o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		uploads, err = storage.NewS3(ctx, o)
	} else {
		uploads, err = storage.NewLocal(os.Getenv("MEDIA_TEST_WORKER_DIR"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tools := media.Lookup()
	tools.Threads, tools.Preset = 1, "ultrafast"
	sqlDB, _ := gdb.DB()
	proc := &jobs.Processor{Tools: tools, Store: store.New(gdb), Uploads: uploads, MaxSeconds: 60, MaxOutputBytes: 64 << 20,
		TempDir: os.Getenv("MEDIA_TEST_WORKER_TMP")}
	// A job runs for at most a minute here, and one running for longer is taken to be orphaned
	// (the test ages its killed job instead of waiting that long).
	q, err := jobs.New(sqlDB, proc, jobs.Options{Workers: 1, Queue: os.Getenv("MEDIA_TEST_WORKER_QUEUE"),
		JobTimeout: time.Minute, RescueAfter: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := q.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	_ = q.Stop(context.Background())
	return 0
}

func TestMediaWorkerKilledMidTranscode(t *testing.T) {
	for _, s3 := range []bool{false, true} {
		name := "local"
		if s3 {
			name = "s3"
		}
		t.Run(name, func(t *testing.T) { testWorkerKilledMidTranscode(t, s3) })
	}
}

func testWorkerKilledMidTranscode(t *testing.T, s3 bool) {
	env := newMediaEnv(t, s3, 0, 60) // this process only enqueues
	owner := env.api.NewUser("killed")
	tmp := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), testWorkerEnv+"="+testDSN(t), "MEDIA_TEST_WORKER_DIR="+env.dir,
			"MEDIA_TEST_WORKER_QUEUE="+env.queue, "MEDIA_TEST_WORKER_TMP="+tmp)
		if env.bucket != nil {
			o, _ := json.Marshal(env.bucket.Options())
			cmd.Env = append(cmd.Env, "MEDIA_TEST_WORKER_S3="+string(o))
		}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	var v uploaded
	env.upload(t, owner.Token, "k.mp4", hevcMP4(t, 3, "320x240")).Status(http.StatusCreated).Decode(&v)
	if v.Status != "processing" {
		t.Fatalf("status %q, want processing", v.Status)
	}
	first := start()
	// Kill the worker while its ffmpeg encodes the rendition.
	deadline := time.Now().Add(time.Minute)
	for !encoding(first.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("the worker never started the transcode")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	if state := jobState(t, v.ID); state != "running" {
		t.Fatalf("job after the kill is %q, want running (orphaned)", state)
	}
	row, _ := readVideo(t, v.ID)
	if row.Status != "processing" {
		t.Fatalf("video after the kill is %q, want processing", row.Status)
	}
	// ffmpeg died with its worker (Pdeathsig): nothing is encoding any more.
	time.Sleep(200 * time.Millisecond)
	if encoding(first.Process.Pid) {
		t.Fatal("ffmpeg outlived its worker")
	}
	// Time passes, as the test will not wait for it: the killed attempt started longer ago
	// than a job may run (the rescuer then takes it for orphaned), and the dead worker, which
	// was River's leader, has seen its 15-second lease run out.
	db.Exec(`UPDATE river_job SET attempted_at = now() - interval '2 minutes'
		WHERE state = 'running' AND (args->>'video_id')::int = ?`, v.ID)
	db.Exec(`DELETE FROM river_leader`)
	start()
	waitJob(t, v.ID, 90*time.Second)
	row, _ = readVideo(t, v.ID)
	if row.Status != "ready" || !strings.HasSuffix(*row.VideoPath, ".mp4") {
		t.Fatalf("after the restart: %+v, want ready with the rendition", row)
	}
	if info := env.probeStored(t, *row.VideoPath); info.VideoCodec != "h264" {
		t.Fatalf("rendition = %+v, want H.264", info)
	}
	// Every file in the store is whole and accounted for: the video's, or noted for the sweep
	// (a cover stored by the killed attempt, the replaced original).
	for _, n := range env.storedNames(t) {
		if strings.HasPrefix(filepath.Base(n), ".") || !referenced(t, n) {
			t.Fatalf("file %s is left behind", n)
		}
	}
}

// testDSN is the URL of this package's test database.
func testDSN(t testing.TB) string {
	t.Helper()
	var name string
	if err := db.Raw(`SELECT current_database()`).Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	return testdb.URL(name)
}

// encoding reports whether a child of pid runs ffmpeg's libx264 encode.
func encoding(pid int) bool {
	out, err := exec.Command("pgrep", "-P", fmt.Sprint(pid), "-f", "libx264").Output()
	return err == nil && len(strings.TrimSpace(string(out))) > 0
}
