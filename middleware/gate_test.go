package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// gateServer is a router with Gate(n, "/stream") in front of handlers that report when they
// start and wait for release (closed by the test) before answering.
type gateServer struct {
	srv      *httptest.Server
	release  chan struct{}
	started  chan string
	inFlight atomic.Int32
	most     atomic.Int32
	errs     chan error
}

func newGateServer(t *testing.T, n int) *gateServer {
	t.Helper()
	g := &gateServer{release: make(chan struct{}), started: make(chan string, 100), errs: make(chan error, 100)}
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			g.errs <- e.Err
		}
	})
	r.Use(Gate(n, "/stream"))
	wait := func(c *gin.Context) {
		now := g.inFlight.Add(1)
		for most := g.most.Load(); now > most && !g.most.CompareAndSwap(most, now); most = g.most.Load() {
		}
		g.started <- c.Request.URL.Path
		<-g.release
		g.inFlight.Add(-1)
		c.String(http.StatusOK, "done")
	}
	r.GET("/work", wait)
	r.POST("/work", wait)
	r.GET("/stream", wait)
	// /answer writes its answer, then keeps going (as a handler whose client reads slowly).
	r.GET("/answer", func(c *gin.Context) {
		c.String(http.StatusOK, "answered")
		c.Writer.Flush()
		g.started <- "/answer"
		<-g.release
	})
	g.srv = httptest.NewServer(r)
	t.Cleanup(g.srv.Close)
	return g
}

// send sends a request in the background (body "" for none); wg tells when it is answered.
func (g *gateServer) send(ctx context.Context, method, path, body string, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		var in io.Reader
		if body != "" {
			in = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, g.srv.URL+path, in)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
	}()
}

func (g *gateServer) get(ctx context.Context, path string, wg *sync.WaitGroup) {
	g.send(ctx, "GET", path, "", wg)
}

// awaitStart returns the path of the next request to enter a handler, failing after 10 s.
func (g *gateServer) awaitStart(t *testing.T) string {
	t.Helper()
	select {
	case p := <-g.started:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no request entered a handler within 10 s")
		return ""
	}
}

// awaitEnter waits for the next request to enter a handler and checks that it is path's.
func (g *gateServer) awaitEnter(t *testing.T, path string) {
	t.Helper()
	if p := g.awaitStart(t); p != path {
		t.Fatalf("%s entered, want %s", p, path)
	}
}

// noStart checks that no request enters a handler for a moment.
func (g *gateServer) noStart(t *testing.T) {
	t.Helper()
	select {
	case p := <-g.started:
		t.Fatalf("%s entered a handler while every slot was taken", p)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestGateAdmitsNAtOnceAndTheRestInTurn(t *testing.T) {
	g := newGateServer(t, 2)
	var wg sync.WaitGroup
	for range 10 {
		g.get(context.Background(), "/work", &wg)
	}
	g.awaitStart(t)
	g.awaitStart(t)
	g.noStart(t)
	close(g.release) // every waiting request now goes through, two at a time
	for range 8 {
		g.awaitStart(t)
	}
	wg.Wait()
	if most := g.most.Load(); most != 2 {
		t.Errorf("%d requests were in the handlers at once, want 2", most)
	}
}

func TestGateFreesTheSlotAtTheAnswersFirstWrite(t *testing.T) {
	g := newGateServer(t, 1)
	var wg sync.WaitGroup
	g.get(context.Background(), "/answer", &wg)
	g.awaitStart(t) // it has answered and still runs: its slot is free
	g.get(context.Background(), "/work", &wg)
	g.awaitEnter(t, "/work")
	close(g.release)
	wg.Wait()
}

func TestGateLetsBodiesAndExemptRoutesPass(t *testing.T) {
	g := newGateServer(t, 1)
	var wg sync.WaitGroup
	g.get(context.Background(), "/work", &wg)
	g.awaitStart(t) // the only slot is taken
	g.get(context.Background(), "/stream", &wg)
	g.awaitEnter(t, "/stream")
	g.send(context.Background(), "POST", "/work", `{"a":1}`, &wg)
	g.awaitEnter(t, "/work") // the POST, with a body
	close(g.release)
	wg.Wait()
}

func TestGateDropsAWaiterWhoseClientLeft(t *testing.T) {
	g := newGateServer(t, 1)
	var wg sync.WaitGroup
	g.get(context.Background(), "/work", &wg)
	g.awaitStart(t)
	ctx, cancel := context.WithCancel(context.Background())
	g.get(ctx, "/work", &wg)
	time.Sleep(100 * time.Millisecond) // let it reach the gate
	cancel()
	select {
	case err := <-g.errs:
		if !errs.Is(err, errs.KindClientClosed) || !errors.Is(err, context.Canceled) {
			t.Errorf("the departed waiter ended with %v, want a client-closed error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the departed waiter was not dropped within 10 s")
	}
	// It took no slot: after the first request, the next one still gets in.
	close(g.release)
	g.get(context.Background(), "/work", &wg)
	g.awaitEnter(t, "/work")
	g.noStart(t) // and the departed one never ran
	wg.Wait()
}
