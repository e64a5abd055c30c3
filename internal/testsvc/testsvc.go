// Package testsvc gives tests the shared services of a deployment on several machines as real
// servers, never mocks: an S3-compatible object store (S3, here), Redis (redis.go), a
// PostgreSQL primary with a streaming replica (replica.go), and a TCP proxy that plays a
// server's outages in front of any of them (proxy.go).
//
// S3(t) returns a fresh, empty bucket on the server named by TEST_S3_ENDPOINT (with
// TEST_S3_ACCESS_KEY and TEST_S3_SECRET_KEY), or, when that is unset, on a throwaway versitygw
// started for this test package alone: built once per machine from the version pinned in
// tools/go.mod by scripts/tools.sh (the first build takes a few minutes), serving a temporary
// folder on a free port, and stopped with the test process. When no server can be had the test
// fails with a message saying how to start one: it never skips.
package testsvc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tiktok/storage"
)

// The variables that point the tests at an S3 server of one's own.
const (
	EnvS3Endpoint  = "TEST_S3_ENDPOINT" // e.g. http://127.0.0.1:7070
	EnvS3AccessKey = "TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "TEST_S3_SECRET_KEY"
	EnvS3Region    = "TEST_S3_REGION" // us-east-1 when unset
)

// S3Server is an S3 API the tests may create buckets on.
type S3Server struct {
	Endpoint  string // http://host:port
	Region    string
	AccessKey string
	SecretKey string
}

// S3Bucket is an empty bucket of its own for one test, whose objects anyone may read at
// PublicBaseURL + "/" + key (path-style, as on versitygw and MinIO).
type S3Bucket struct {
	S3Server
	Bucket        string
	PublicBaseURL string
	// Client is an S3 client with the server's keys, to look inside the bucket.
	Client *minio.Client
}

// Options are the storage settings of a store on this bucket.
func (b S3Bucket) Options() storage.S3Options {
	return storage.S3Options{Endpoint: b.Endpoint, Region: b.Region, Bucket: b.Bucket,
		AccessKey: b.AccessKey, SecretKey: b.SecretKey, PublicBaseURL: b.PublicBaseURL, PathStyle: true}
}

// Env is the STORAGE=s3 configuration of the server for this bucket, as config.Load reads it.
func (b S3Bucket) Env() map[string]string {
	return map[string]string{"STORAGE": "s3", "S3_ENDPOINT": b.Endpoint, "S3_REGION": b.Region,
		"S3_BUCKET": b.Bucket, "S3_ACCESS_KEY": b.AccessKey, "S3_SECRET_KEY": b.SecretKey,
		"S3_PUBLIC_BASE_URL": b.PublicBaseURL, "S3_PATH_STYLE": "true"}
}

var (
	s3Once   sync.Once
	s3Server S3Server
	s3Err    error
	// s3Stop keeps the write end of the pipe whose closing stops the throwaway server: open
	// for as long as this process lives, closed by the kernel when it exits, however it exits.
	s3Stop io.WriteCloser
)

// S3 returns a new empty bucket on the test S3 server (started on first use in this test
// package), removed with everything in it when the test ends.
func S3(t testing.TB) S3Bucket {
	t.Helper()
	s3Once.Do(func() { s3Server, s3Err = connectS3() })
	if s3Err != nil {
		t.Fatal(s3Box(s3Err))
	}
	client, err := s3Server.client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "test-" + randomHex(8)
	if err := client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s3Server.Region}); err != nil {
		t.Fatalf("testsvc: create bucket %s on %s: %v", name, s3Server.Endpoint, err)
	}
	t.Cleanup(func() { removeBucket(t, client, name) })
	if err := client.SetBucketPolicy(ctx, name, storage.PublicReadPolicy(name)); err != nil {
		t.Fatalf("testsvc: make bucket %s readable by anyone: %v", name, err)
	}
	return S3Bucket{S3Server: s3Server, Bucket: name, PublicBaseURL: s3Server.Endpoint + "/" + name, Client: client}
}

func (s S3Server) client() (*minio.Client, error) {
	host := strings.TrimPrefix(strings.TrimPrefix(s.Endpoint, "http://"), "https://")
	return minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: strings.HasPrefix(s.Endpoint, "https://"), Region: s.Region, BucketLookup: minio.BucketLookupPath,
		MaxRetries: 1, // ping retries itself, and a failure shows its cause, not a time-out
	})
}

// removeBucket empties the bucket (objects and unfinished multipart uploads) and removes it.
func removeBucket(t testing.TB, client *minio.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for o := range client.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil {
			_ = client.RemoveObject(ctx, name, o.Key, minio.RemoveObjectOptions{})
		}
	}
	for u := range client.ListIncompleteUploads(ctx, name, "", true) {
		if u.Err == nil {
			_ = client.RemoveIncompleteUpload(ctx, name, u.Key)
		}
	}
	if err := client.RemoveBucket(ctx, name); err != nil {
		t.Logf("testsvc: remove bucket %s: %v", name, err)
	}
}

// connectS3 checks the server of TEST_S3_ENDPOINT, or starts a throwaway versitygw.
func connectS3() (S3Server, error) {
	if endpoint := os.Getenv(EnvS3Endpoint); endpoint != "" {
		s := S3Server{Endpoint: strings.TrimRight(endpoint, "/"), Region: os.Getenv(EnvS3Region),
			AccessKey: os.Getenv(EnvS3AccessKey), SecretKey: os.Getenv(EnvS3SecretKey)}
		if s.Region == "" {
			s.Region = "us-east-1"
		}
		if !strings.HasPrefix(s.Endpoint, "http://") && !strings.HasPrefix(s.Endpoint, "https://") {
			return s, fmt.Errorf("%s=%s: must be an http(s) URL such as http://127.0.0.1:7070", EnvS3Endpoint, endpoint)
		}
		if err := s.ping(10 * time.Second); err != nil {
			return s, fmt.Errorf("%s=%s: %w", EnvS3Endpoint, s.Endpoint, err)
		}
		return s, nil
	}
	bin, err := versitygw()
	if err != nil {
		return S3Server{}, fmt.Errorf("%s is not set and versitygw could not be built: %w", EnvS3Endpoint, err)
	}
	// A free port can be taken between the check and the server's start: try a few.
	for attempt := 1; ; attempt++ {
		s, err := startVersitygw(bin)
		if err == nil || attempt == 3 {
			if err != nil {
				err = fmt.Errorf("%s is not set and the throwaway versitygw did not start: %w", EnvS3Endpoint, err)
			}
			return s, err
		}
	}
}

// ping waits up to limit for the server to answer a signed request.
func (s S3Server) ping(limit time.Duration) error {
	client, err := s.client()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListBuckets(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// versitygw returns the path of the versitygw binary pinned in tools/go.mod, building it
// through scripts/tools.sh when missing. A lock keeps the test packages that go test runs at
// once from building it side by side.
func versitygw() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "tiktok-tools.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "tools.sh"), "versitygw")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/tools.sh versitygw: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if stderr.Len() > 0 {
		fmt.Fprint(os.Stderr, stderr.String()) // "building ... (first time only)": says why the run is slow
	}
	return strings.TrimSpace(string(out)), nil
}

// moduleRoot is the folder of the tiktok module's go.mod, above the test's working folder.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module tiktok\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module tiktok above the working folder")
		}
		dir = parent
	}
}

// supervisor runs the server ("$@") with its data in $1 and stays until its standard input
// closes, that is until the test process is gone, however it ended (even killed), or until it
// writes a line: it then stops the server and removes $1. While the server runs its log is
// $1/server.log; if it stops by itself, its exit status goes to $1/exited.
const supervisor = `trap '' INT QUIT
dir=$1; shift
exec 3<&0 </dev/null
"$@" >"$dir/server.log" 2>&1 &
child=$!
{ read -r line <&3; kill -TERM "$child" 2>/dev/null; } &
wait "$child"
echo "$?" >"$dir/exited"
wait
rm -rf "$dir"`

func startVersitygw(bin string) (S3Server, error) {
	dir, err := os.MkdirTemp("", "tiktok-s3-")
	if err != nil {
		return S3Server{}, err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		return S3Server{}, err
	}
	port, err := freePort()
	if err != nil {
		return S3Server{}, err
	}
	s := S3Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Region: "us-east-1",
		AccessKey: "test" + randomHex(6), SecretKey: randomHex(20)}
	cmd := exec.Command("sh", "-c", supervisor, "sh", dir, bin,
		"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "posix", filepath.Join(dir, "data"))
	stop, err := cmd.StdinPipe()
	if err != nil {
		return s, err
	}
	if err := cmd.Start(); err != nil {
		return s, err
	}
	go func() { _ = cmd.Wait() }() // reap the supervisor when it is done
	halt := func() { _, _ = stop.Write([]byte("stop\n")); _ = stop.Close() }

	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, err := os.ReadFile(filepath.Join(dir, "exited")); err == nil {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			halt()
			return s, fmt.Errorf("versitygw exited with status %s: %s", strings.TrimSpace(string(status)), lastLines(log, 10))
		}
		if err := s.ping(0); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			halt()
			return s, fmt.Errorf("versitygw on %s did not answer within 30s (%v): %s", s.Endpoint, err, lastLines(log, 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s3Stop = stop
	return s, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func s3Box(err error) string {
	return fmt.Sprintf(`
==================================================================================
 The tests need an S3-compatible server, and none could be had:

   %v

 Either leave TEST_S3_ENDPOINT unset: each test package then starts a throwaway
 versitygw, built once with Go from the version pinned in tools/go.mod (this needs
 the Go module proxy the first time; build it by hand with: scripts/tools.sh versitygw),
 or point the tests at a running server:
   "$(scripts/tools.sh versitygw)" --access test --secret testsecret \
       --port 127.0.0.1:7070 posix /tmp/s3data &        # after: mkdir -p /tmp/s3data
   export TEST_S3_ENDPOINT=http://127.0.0.1:7070 TEST_S3_ACCESS_KEY=test TEST_S3_SECRET_KEY=testsecret
==================================================================================`, err)
}
