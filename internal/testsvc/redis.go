package testsvc

// Redis for the tests: Redis(t) gives a test a key prefix of its own on the server named by
// TEST_REDIS_URL, or, when that is unset, on a throwaway redis-server started from the
// machine's binary for this test package alone (no persistence, stopped with the test
// process). StartRedis(t) starts a server of the test's own, which it may stop and start
// again (the Redis-down tests). When no server can be had the test fails saying how to get
// one: it never skips.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvRedisURL points the tests at a Redis of one's own (e.g. redis://127.0.0.1:6379/15).
const EnvRedisURL = "TEST_REDIS_URL"

// RedisDB is a test's share of a Redis server: its keys start with Prefix, and are deleted
// when the test ends.
type RedisDB struct {
	URL    string
	Client *redis.Client
	// Prefix is unique to the test: give it as the key prefix of what the test stores.
	Prefix string
}

var (
	redisOnce sync.Once
	redisURL  string
	redisErr  error
	redisStop io.WriteCloser // like s3Stop: closed by the kernel when the test process exits
)

// Redis returns a client of the test Redis (started on first use in this test package) and
// a key prefix of the test's own.
func Redis(t testing.TB) RedisDB {
	t.Helper()
	redisOnce.Do(func() { redisURL, redisErr = connectRedis() })
	if redisErr != nil {
		t.Fatal(redisBox(redisErr))
	}
	client, err := newRedisClient(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "test-" + randomHex(6) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// redis_rate writes "rate:" + prefix + ..., so the prefix may sit inside the key.
		iter := client.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		_ = client.Close()
	})
	return RedisDB{URL: redisURL, Client: client, Prefix: prefix}
}

func newRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("testsvc: %s is not a Redis URL: %w", EnvRedisURL, err)
	}
	opt.DisableIdentity = true
	return redis.NewClient(opt), nil
}

// connectRedis checks the server of TEST_REDIS_URL, or starts a throwaway redis-server.
func connectRedis() (string, error) {
	if url := os.Getenv(EnvRedisURL); url != "" {
		if err := pingRedis(url, 5*time.Second); err != nil {
			return "", fmt.Errorf("%s: %w", EnvRedisURL, err)
		}
		return url, nil
	}
	s, err := startRedisServer(0)
	if err != nil {
		return "", fmt.Errorf("%s is not set and a throwaway redis-server did not start: %w", EnvRedisURL, err)
	}
	redisStop = s.stop
	return s.URL, nil
}

// pingRedis waits up to limit for the Redis of url to answer PING.
func pingRedis(url string, limit time.Duration) error {
	client, err := newRedisClient(url)
	if err != nil {
		return err
	}
	defer client.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RedisServer is a redis-server of one test's own, which the test may stop and start again
// on the same port.
type RedisServer struct {
	URL  string
	Port int
	t    testing.TB
	stop io.WriteCloser
	dir  string
}

// StartRedis starts a throwaway redis-server for this test alone (it needs the redis-server
// binary, even with TEST_REDIS_URL set, since the test stops it), stopped when the test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	s, err := startRedisServer(0)
	if err != nil {
		t.Fatal(redisBox(fmt.Errorf("the test starts a redis-server of its own (to stop it): %w", err)))
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server and waits until its port refuses connections.
func (s *RedisServer) Stop() {
	if s.stop == nil {
		return
	}
	_, _ = s.stop.Write([]byte("stop\n"))
	_ = s.stop.Close()
	s.stop = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The supervisor writes "exited" once redis-server is gone, then removes the folder.
		if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 100*time.Millisecond); err != nil {
			break
		} else {
			_ = c.Close()
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testsvc: redis-server on port %d did not stop within 10s", s.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start starts the stopped server again, empty, on the same port.
func (s *RedisServer) Start() {
	s.t.Helper()
	if s.stop != nil {
		return
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ { // the old socket may take a moment to go
		var again *RedisServer
		if again, err = startRedisServer(s.Port); err == nil {
			s.stop, s.dir = again.stop, again.dir
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("testsvc: restart redis-server on port %d: %v", s.Port, err)
}

// redisServerBinary finds redis-server on PATH or where the packages put it.
func redisServerBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no redis-server binary on PATH, in /usr/bin or in /usr/local/bin")
}

// startRedisServer starts redis-server under the supervisor of testsvc.go, on port (a free
// one when 0), with nothing saved to disk.
func startRedisServer(port int) (*RedisServer, error) {
	bin, err := redisServerBinary()
	if err != nil {
		return nil, err
	}
	pick := port == 0
	for attempt := 1; ; attempt++ {
		if pick {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		s, err := startRedisOn(bin, port)
		if err == nil || !pick || attempt == 3 { // a free port may be taken before the start
			return s, err
		}
	}
}

func startRedisOn(bin string, port int) (*RedisServer, error) {
	dir, err := os.MkdirTemp("", "tiktok-redis-")
	if err != nil {
		return nil, err
	}
	s := &RedisServer{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Port: port, dir: dir}
	cmd := exec.Command("sh", "-c", supervisor, "sh", dir, bin,
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no")
	stop, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = cmd.Wait() }()
	halt := func() { _, _ = stop.Write([]byte("stop\n")); _ = stop.Close() }

	client, err := newRedisClient(s.URL)
	if err != nil {
		halt()
		return nil, err
	}
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status, err := os.ReadFile(filepath.Join(dir, "exited")); err == nil {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			halt()
			return nil, fmt.Errorf("redis-server exited with status %s: %s", strings.TrimSpace(string(status)), lastLines(log, 10))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			halt()
			return nil, fmt.Errorf("redis-server on port %d did not answer within 10s (%v): %s", port, err, lastLines(log, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop = stop
	return s, nil
}

func redisBox(err error) string {
	return fmt.Sprintf(`
==================================================================================
 The tests need Redis, and none could be had:

   %v

 Either install the server, so the tests can start a throwaway one of their own:
   apt-get install redis-server        # Debian, Ubuntu (brew install redis on macOS)
 or point the tests at a running Redis (its keys are prefixed per test and removed):
   redis-server --port 6379 --save "" --appendonly no &
   export TEST_REDIS_URL=redis://127.0.0.1:6379/15
==================================================================================`, err)
}
