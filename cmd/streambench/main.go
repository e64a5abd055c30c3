// Command streambench measures the notification stream of a running server on this machine:
// the server memory (RSS) that -streams open streams cost, and how long a like takes to reach
// the liked user's streams (from the start of the POST to the event's arrival), at p50/p99.
// Users are user1..userN with one password, as the seeder and cmd/loadtest have them.
//
//	go run ./cmd/streambench -base http://127.0.0.1:8091 -pid $(pgrep -n tiktok-notify) -streams 1000
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8000", "server base URL (this machine)")
	users := flag.Int("users", 50, "users to log in (user1..userN); stream i belongs to user i mod N")
	emailFormat := flag.String("email-format", "user%d@example.com", "e-mail of user i")
	password := flag.String("password", "password123", "password of the users")
	streams := flag.Int("streams", 1000, "streams to open")
	likes := flag.Int("likes", 200, "likes to time")
	pid := flag.Int("pid", 0, "the server's process id, to read its RSS (0: skip the memory figure)")
	flag.Parse()
	if err := run(*base, *users, *emailFormat, *password, *streams, *likes, *pid); err != nil {
		fmt.Fprintln(os.Stderr, "streambench:", err)
		os.Exit(1)
	}
}

type client struct {
	base, token string
	http        *http.Client
}

func (c *client) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type arrival struct {
	stream int
	id     string
	at     time.Time
}

func run(base string, nUsers int, emailFormat, password string, nStreams, nLikes, pid int) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	clients := make([]*client, nUsers)
	for i := range clients {
		c := &client{base: base, http: hc}
		status, body, err := c.do("POST", "/api/users/login", map[string]string{"email": fmt.Sprintf(emailFormat, i+1), "password": password})
		if err != nil || status != 200 {
			return fmt.Errorf("login %d: %d %s %v", i+1, status, body, err)
		}
		var out struct {
			Token string `json:"token"`
			User  struct {
				ID int32 `json:"id"`
			} `json:"user"`
		}
		_ = json.Unmarshal(body, &out)
		c.token = out.Token
		clients[i] = c
	}
	rssBefore := rss(pid)

	arrivals := make(chan arrival, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan error, nStreams)
	began := time.Now()
	for i := range nStreams {
		owner := clients[i%nUsers]
		status, body, err := owner.do("POST", "/api/notifications/ticket", nil)
		if err != nil || status != 200 {
			return fmt.Errorf("ticket: %d %s %v", status, body, err)
		}
		var t struct {
			Ticket string `json:"ticket"`
		}
		_ = json.Unmarshal(body, &t)
		go stream(ctx, base, t.Ticket, i, ready, arrivals)
	}
	for range nStreams {
		if err := <-ready; err != nil {
			return err
		}
	}
	fmt.Printf("%d streams open in %s\n", nStreams, time.Since(began).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // let the server settle
	if pid != 0 {
		rssAfter := rss(pid)
		fmt.Printf("server RSS: %.1f MB before, %.1f MB with %d streams: %.1f MB more (%.1f KB per stream)\n",
			float64(rssBefore)/1024, float64(rssAfter)/1024, nStreams, float64(rssAfter-rssBefore)/1024,
			float64(rssAfter-rssBefore)/float64(nStreams))
	}

	// user1 posts a video, user2 likes and unlikes it nLikes times; every stream of user1 must
	// get each like.
	owner, liker := clients[0], clients[1%nUsers]
	status, body, err := owner.do("POST", "/api/videos", map[string]any{"videoUrl": "https://cdn.example.com/bench.mp4", "caption": "stream bench"})
	if err != nil || status != 201 {
		return fmt.Errorf("video: %d %s %v", status, body, err)
	}
	var video struct {
		ID int32 `json:"id"`
	}
	_ = json.Unmarshal(body, &video)
	perOwner := (nStreams + nUsers - 1) / nUsers
	var first, last []time.Duration
	for range nLikes {
		t0 := time.Now()
		if status, body, err := liker.do("POST", fmt.Sprintf("/api/videos/%d/like", video.ID), nil); err != nil || status != 200 {
			return fmt.Errorf("like: %d %s %v", status, body, err)
		}
		got := 0
		timeout := time.After(5 * time.Second)
		for got < perOwner {
			select {
			case a := <-arrivals:
				if got == 0 {
					first = append(first, a.at.Sub(t0))
				}
				got++
				if got == perOwner {
					last = append(last, a.at.Sub(t0))
				}
			case <-timeout:
				return fmt.Errorf("only %d of %d streams got the like within 5 s", got, perOwner)
			}
		}
		if status, _, err := liker.do("DELETE", fmt.Sprintf("/api/videos/%d/like", video.ID), nil); err != nil || status != 200 {
			return fmt.Errorf("unlike: %d %v", status, err)
		}
	}
	_, _, _ = owner.do("DELETE", fmt.Sprintf("/api/videos/%d", video.ID), nil)
	slices.Sort(first)
	slices.Sort(last)
	fmt.Printf("like -> stream, %d likes, %d streams of the liked user: first stream p50 %s p99 %s max %s; all %d streams p50 %s p99 %s max %s\n",
		nLikes, perOwner, pct(first, .5), pct(first, .99), first[len(first)-1],
		perOwner, pct(last, .5), pct(last, .99), last[len(last)-1])
	return nil
}

func pct(d []time.Duration, p float64) time.Duration {
	return d[int(float64(len(d)-1)*p)].Round(10 * time.Microsecond)
}

// stream reads one stream, reporting readiness (its first unread event) and each notification.
func stream(ctx context.Context, base, ticket string, i int, ready chan<- error, arrivals chan<- arrival) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/notifications/stream?ticket="+ticket, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ready <- err
		return
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		ready <- fmt.Errorf("stream %d: status %d", i, res.StatusCode)
		return
	}
	sc := bufio.NewScanner(res.Body)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: unread" && !signalled:
			signalled = true
			ready <- nil
		case strings.HasPrefix(line, "id: "):
			arrivals <- arrival{stream: i, id: line[4:], at: time.Now()}
		}
	}
	if !signalled {
		ready <- errors.New("stream " + strconv.Itoa(i) + " ended before its first event")
	}
}

// rss is the resident set of process pid in KB (0 when unknown).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
