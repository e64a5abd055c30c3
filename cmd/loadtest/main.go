// Command loadtest drives a running server on this machine with a mix of feed reads, video
// reads, likes and comments from N logged-in users, and prints throughput and latency
// percentiles per operation. It is bounded: a duration and a request budget, loopback only.
//
//	go run ./cmd/loadtest -users 50 -concurrency 32 -duration 30s -mix feed=70,video=15,like=10,comment=5
//	go run ./cmd/loadtest -mix feedanon=100 -duration 20s       # the latest feed alone
//	go run ./cmd/loadtest -concurrency 8 -mix tag=1 -tag fyp    # a tag page (also tagtrending, tagdeep, trendingtags, sound)
//
// The users must exist with one password: the scale seeder's user1..userN@example.com share
// "password123" (go run ./seeders -scale). Start the server with RATE_LOGIN_PER_IP=0, or the
// logins of a large -users are rate-limited.
//
// Operations: feed (GET /api/videos, as a logged-in user, following nextCursor a few pages
// deep), feedanon (the same, anonymous), trending (sort=trending), following
// (GET /api/videos/following), video (GET /api/videos/:id), like (POST or DELETE
// /api/videos/:id/like), comment (POST /api/comments).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

type options struct {
	base        string
	users       int
	emailFormat string
	password    string
	concurrency int
	duration    time.Duration
	maxRequests int64
	mix         map[string]int
	maxVideoID  int
	author      int
	deepPages   int
	// Discovery: the tag of the tag-page operations, the page tagdeep reads, the sound.
	tag         string
	tagDeepPage int
	sound       string
	// tagDeepCursor is the cursor of page tagDeepPage of the tag, found at the start.
	tagDeepCursor string
}

var knownOps = []string{"feed", "feedanon", "trending", "following", "video", "like", "comment",
	"tag", "tagtrending", "tagdeep", "trendingtags", "sound", "notifications"}

// discoveryPaths are the list reads of the discovery operations (tagdeep is "tag" started at
// a deep cursor; trendingtags is one page).
func discoveryPaths(o options) map[string]string {
	tag := "/api/hashtags/" + url.PathEscape(o.tag) + "/videos?limit=10"
	return map[string]string{"tag": tag, "tagtrending": tag + "&sort=trending", "tagdeep": tag,
		"trendingtags": "/api/hashtags/trending?limit=20", "sound": "/api/videos?limit=10&sound=" + url.QueryEscape(o.sound)}
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var mix string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&o.base, "base", "http://127.0.0.1:8000", "server base URL (loopback only)")
	fs.IntVar(&o.users, "users", 50, "users to log in (user1..userN); 0: none, anonymous operations only")
	fs.StringVar(&o.emailFormat, "email-format", "user%d@example.com", "e-mail of user i (printf format)")
	fs.StringVar(&o.password, "password", "password123", "password shared by the users")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run (at most 5m)")
	fs.Int64Var(&o.maxRequests, "max-requests", 500_000, "stop after this many requests")
	fs.StringVar(&mix, "mix", "feed=70,video=15,like=10,comment=5", "operation weights: op=weight,...")
	fs.IntVar(&o.maxVideoID, "max-video-id", 0, "pick video ids from 1..N (0: from the ids the feeds return)")
	fs.IntVar(&o.author, "author", 0, "pick video ids from the first 100 videos of this user (0: not)")
	fs.IntVar(&o.deepPages, "deep-pages", 5, "feed reads follow nextCursor up to this many pages")
	fs.StringVar(&o.tag, "tag", "fyp", "the tag of the tag, tagtrending and tagdeep operations")
	fs.IntVar(&o.tagDeepPage, "tag-deep-page", 1000, "tagdeep reads this page of the tag (of 10 videos)")
	fs.StringVar(&o.sound, "sound", "Espresso - Sabrina Carpenter", "the sound of the sound operation")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	u, err := url.Parse(o.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return o, fmt.Errorf("-base %q is not an http URL", o.base)
	}
	if !isLoopback(u.Hostname()) {
		return o, fmt.Errorf("-base %q: only a server on this machine (localhost, 127.0.0.1, ::1) may be load-tested", o.base)
	}
	if o.duration <= 0 || o.duration > 5*time.Minute {
		return o, errors.New("-duration must be between 1s and 5m")
	}
	if o.users < 0 || o.concurrency < 1 || o.maxRequests < 1 {
		return o, errors.New("-concurrency and -max-requests must be positive, -users not negative")
	}
	o.mix = map[string]int{}
	for _, part := range strings.Split(mix, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(knownOps, name) {
			return o, fmt.Errorf("-mix: %q is not op=weight with op one of %s", part, strings.Join(knownOps, ", "))
		}
		o.mix[name] = n
	}
	return o, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client is one logged-in user's view of the API.
type client struct {
	http  *http.Client
	base  string
	token string
}

func (c *client) do(ctx context.Context, method, path string, body any, auth bool) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
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

func login(ctx context.Context, hc *http.Client, o options) ([]*client, error) {
	if o.users == 0 {
		// -users 0: one anonymous client, for anonymous operations against any server with
		// the same paths (the raw feed baseline of ../shared/bench/rawfeed has no login).
		return []*client{{http: hc, base: o.base}}, nil
	}
	clients := make([]*client, o.users)
	var wg sync.WaitGroup
	errs := make(chan error, o.users)
	sem := make(chan struct{}, 8) // bcrypt is slow on purpose; do not swamp the server
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := &client{http: hc, base: o.base}
			status, body, err := c.do(ctx, "POST", "/api/users/login",
				map[string]string{"email": fmt.Sprintf(o.emailFormat, i+1), "password": o.password}, false)
			if err != nil || status != http.StatusOK {
				errs <- fmt.Errorf("login of %s: status %d %s %v", fmt.Sprintf(o.emailFormat, i+1), status, body, err)
				return
			}
			var out struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
				errs <- fmt.Errorf("login answer %s", body)
				return
			}
			c.token = out.Token
			clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return clients, nil
}

// stats are the latencies and failures of one operation.
type stats struct {
	mu        sync.Mutex
	latencies []time.Duration
	failures  int64
	statuses  map[int]int64
}

func (s *stats) add(d time.Duration, status int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
	if s.statuses == nil {
		s.statuses = map[int]int64{}
	}
	s.statuses[status]++
	if err != nil || status >= 400 {
		s.failures++
	}
}

// videoIDs collects ids seen in feeds, for reads, likes and comments to target.
type videoIDs struct {
	mu  sync.RWMutex
	ids []int32
	max int
	// fixed: the ids were chosen at the start (-author); the feeds add none.
	fixed bool
}

func (v *videoIDs) add(ids []int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.fixed && len(v.ids) < 100_000 {
		v.ids = append(v.ids, ids...)
	}
}

func (v *videoIDs) pick(r *rand.Rand) (int32, bool) {
	if v.max > 0 {
		return int32(1 + r.IntN(v.max)), true
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if len(v.ids) == 0 {
		return 0, false
	}
	return v.ids[r.IntN(len(v.ids))], true
}

// authorVideos fixes ids to the first 100 videos of user author (GET /api/users/:id/videos).
func authorVideos(ctx context.Context, c *client, author int, ids *videoIDs) error {
	path := fmt.Sprintf("/api/users/%d/videos?limit=50", author)
	var found []int32
	for cursor := ""; len(found) < 100; {
		status, body, err := c.do(ctx, "GET", path+cursor, nil, false)
		if err != nil || status != 200 {
			return fmt.Errorf("reading the videos of user %d: status %d, %v", author, status, err)
		}
		var p feedPage
		if err := json.Unmarshal(body, &p); err != nil {
			return err
		}
		for _, v := range p.Videos {
			found = append(found, v.ID)
		}
		if p.Pagination.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(*p.Pagination.NextCursor)
	}
	if len(found) == 0 {
		return fmt.Errorf("user %d has no videos", author)
	}
	ids.add(found[:min(len(found), 100)])
	ids.fixed = true
	return nil
}

type feedPage struct {
	Videos []struct {
		ID int32 `json:"id"`
	} `json:"videos"`
	Pagination struct {
		NextCursor *string `json:"nextCursor"`
	} `json:"pagination"`
}

func run(ctx context.Context, o options) error {
	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: o.concurrency * 2, MaxIdleConnsPerHost: o.concurrency * 2,
			IdleConnTimeout: 30 * time.Second},
	}
	start := time.Now()
	clients, err := login(ctx, hc, o)
	if err != nil {
		return err
	}
	fmt.Printf("logged in %d users in %s\n", len(clients), time.Since(start).Round(time.Millisecond))

	var ops []string
	for _, name := range knownOps {
		for range o.mix[name] {
			ops = append(ops, name)
		}
	}
	if len(ops) == 0 {
		return errors.New("-mix has no operation with a positive weight")
	}
	all := map[string]*stats{}
	for _, name := range knownOps {
		all[name] = &stats{}
	}
	ids := &videoIDs{max: o.maxVideoID}
	if o.author > 0 {
		// One celebrity's videos: every like moves the same author's likes received.
		if err := authorVideos(ctx, clients[0], o.author, ids); err != nil {
			return err
		}
	}
	// Prime the id pool with the first feed pages.
	if status, body, err := clients[0].do(ctx, "GET", "/api/videos?limit=50", nil, false); err == nil && status == 200 {
		var p feedPage
		if json.Unmarshal(body, &p) == nil {
			for _, v := range p.Videos {
				ids.add([]int32{v.ID})
			}
		}
	}

	if o.mix["tagdeep"] > 0 {
		// Walk to the deep page once; every tagdeep read then starts there.
		from := time.Now()
		cursor := ""
		for page := 1; page < o.tagDeepPage; page++ {
			path := discoveryPaths(o)["tag"]
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			status, body, err := clients[0].do(ctx, "GET", path, nil, false)
			if err != nil || status != 200 {
				return fmt.Errorf("walking to page %d of #%s: status %d, %v", o.tagDeepPage, o.tag, status, err)
			}
			var p feedPage
			if err := json.Unmarshal(body, &p); err != nil || p.Pagination.NextCursor == nil {
				return fmt.Errorf("#%s has fewer than %d pages", o.tag, o.tagDeepPage)
			}
			cursor = *p.Pagination.NextCursor
		}
		o.tagDeepCursor = cursor
		fmt.Printf("walked to page %d of #%s in %s\n", o.tagDeepPage, o.tag, time.Since(from).Round(time.Millisecond))
	}

	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var sent atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(began.UnixNano())))
			cursors := map[string]string{}
			depth := map[string]int{}
			for runCtx.Err() == nil && sent.Add(1) <= o.maxRequests {
				c := clients[r.IntN(len(clients))]
				op := ops[r.IntN(len(ops))]
				t0 := time.Now()
				status, err := step(runCtx, r, c, op, ids, cursors, depth, o)
				if runCtx.Err() != nil && err != nil {
					return // the run ended mid-request; do not count it
				}
				all[op].add(time.Since(t0), status, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	report(o, all, elapsed)
	return nil
}

// nextPage is path one page deeper into op's list than its last read (the nextCursor kept in
// cursors) while fewer than deep pages deep, else path itself (the first page again).
func nextPage(path, op string, deep int, cursors map[string]string, depth map[string]int) string {
	if cur := cursors[op]; cur != "" && depth[op] < deep {
		depth[op]++
		return path + "&cursor=" + url.QueryEscape(cur)
	}
	depth[op] = 0
	return path
}

// keepCursor keeps the nextCursor of op's page body for nextPage ("" at the list's end).
func keepCursor(op string, body []byte, cursors map[string]string) error {
	var p struct {
		Pagination struct {
			NextCursor *string `json:"nextCursor"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	cursors[op] = ""
	if p.Pagination.NextCursor != nil {
		cursors[op] = *p.Pagination.NextCursor
	}
	return nil
}

// step runs one operation and returns its status.
func step(ctx context.Context, r *rand.Rand, c *client, op string, ids *videoIDs, cursors map[string]string, depth map[string]int, o options) (int, error) {
	deep := o.deepPages
	switch op {
	case "tagdeep", "trendingtags":
		path := discoveryPaths(o)[op]
		if op == "tagdeep" {
			path += "&cursor=" + url.QueryEscape(o.tagDeepCursor)
		}
		status, _, err := c.do(ctx, "GET", path, nil, false)
		return status, err
	case "tag", "tagtrending", "sound":
		// Anonymous reads that follow nextCursor like the feeds.
		path := nextPage(discoveryPaths(o)[op], op, deep, cursors, depth)
		status, body, err := c.do(ctx, "GET", path, nil, false)
		if err != nil || status != 200 {
			return status, err
		}
		return status, keepCursor(op, body, cursors)
	case "notifications":
		// The logged-in user's own list, following nextCursor like the feeds.
		path := nextPage("/api/notifications?limit=20", op, deep, cursors, depth)
		status, body, err := c.do(ctx, "GET", path, nil, true)
		if err != nil || status != 200 {
			return status, err
		}
		return status, keepCursor(op, body, cursors)
	case "feed", "feedanon", "trending", "following":
		path := map[string]string{"feed": "/api/videos?limit=10", "feedanon": "/api/videos?limit=10",
			"trending": "/api/videos?sort=trending&limit=10", "following": "/api/videos/following?limit=10"}[op]
		path = nextPage(path, op, deep, cursors, depth)
		status, body, err := c.do(ctx, "GET", path, nil, op != "feedanon")
		if err != nil || status != 200 {
			return status, err
		}
		collect := r.IntN(10) == 0
		if deep == 0 && !collect {
			// Nothing to read from this page: skip decoding it, so the load generator's own
			// CPU (it shares the machine with the server) stays small.
			return status, nil
		}
		var p feedPage
		if err := json.Unmarshal(body, &p); err != nil {
			return status, err
		}
		cursors[op] = ""
		if p.Pagination.NextCursor != nil {
			cursors[op] = *p.Pagination.NextCursor
		}
		if collect {
			got := make([]int32, len(p.Videos))
			for i, v := range p.Videos {
				got[i] = v.ID
			}
			ids.add(got)
		}
		return status, nil
	case "video", "like", "comment":
		id, ok := ids.pick(r)
		if !ok {
			return 0, errors.New("no video ids yet")
		}
		var status int
		var err error
		switch op {
		case "video":
			status, _, err = c.do(ctx, "GET", fmt.Sprintf("/api/videos/%d", id), nil, true)
		case "like":
			method := "POST"
			if r.IntN(2) == 0 {
				method = "DELETE"
			}
			status, _, err = c.do(ctx, method, fmt.Sprintf("/api/videos/%d/like", id), nil, true)
		case "comment":
			status, _, err = c.do(ctx, "POST", "/api/comments", map[string]any{"videoId": id, "content": "load test comment"}, true)
		}
		return status, err
	}
	return 0, fmt.Errorf("unknown operation %q", op)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func report(o options, all map[string]*stats, elapsed time.Duration) {
	fmt.Printf("\n%s against %s: %d clients, %d users, mix %v\n", elapsed.Round(time.Millisecond), o.base, o.concurrency, o.users, o.mix)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\treq/s\tp50\tp90\tp99\tmax\tfailed\tstatuses\t")
	var total []time.Duration
	var failed int64
	for _, name := range knownOps {
		s := all[name]
		if len(s.latencies) == 0 {
			continue
		}
		slices.Sort(s.latencies)
		total = append(total, s.latencies...)
		failed += s.failures
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%v\t\n", name, len(s.latencies),
			float64(len(s.latencies))/elapsed.Seconds(), ms(percentile(s.latencies, 0.50)),
			ms(percentile(s.latencies, 0.90)), ms(percentile(s.latencies, 0.99)), ms(s.latencies[len(s.latencies)-1]),
			s.failures, s.statuses)
	}
	slices.Sort(total)
	if len(total) > 0 {
		fmt.Fprintf(tw, "all\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t\t\n", len(total), float64(len(total))/elapsed.Seconds(),
			ms(percentile(total, 0.50)), ms(percentile(total, 0.90)), ms(percentile(total, 0.99)), ms(total[len(total)-1]), failed)
	}
	_ = tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
