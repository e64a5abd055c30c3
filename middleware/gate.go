package middleware

import (
	"bufio"
	"net"
	"slices"
	"sync"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
)

// Gate lets at most n requests at a time into the handlers behind it and queues the others in
// arrival order (goroutines blocked sending on a channel are woken first in, first out).
//
// Why: at saturation every request in flight shares the same few cores and database
// connections, and database/sql hands a freed connection to a random waiter, so a request
// could lose that draw again and again: the slowest hundredth of a like took about three times
// the median. Served in arrival order, a request waits for the ones before it only, and the
// spread narrows (docs/performance.md, "Issue 15, second round": p99 of the default mix 70 ->
// 54 ms, at 4% fewer requests per second, with n = 4 per core). It is opt-in
// (INFLIGHT_REQUESTS): n slow requests hold every slot and queue the quick ones behind them.
//
// A request holds its slot until its handler starts the answer (its first write), not while
// the answer is being sent: a client reading slowly holds no slot. Requests with a body pass
// without one (the handler reads the body at the client's pace, and a slow sender must not
// hold one either), as do the routes in exempt (a long-lived stream, the health checks).
func Gate(n int, exempt ...string) gin.HandlerFunc {
	slots := make(chan struct{}, n)
	return func(c *gin.Context) {
		r := c.Request
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 || slices.Contains(exempt, c.FullPath()) {
			c.Next()
			return
		}
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			_ = c.Error(errs.ClientClosed(r.Context().Err()))
			c.Abort()
			return
		}
		w := &gatedWriter{ResponseWriter: c.Writer, release: func() { <-slots }}
		c.Writer = w
		defer func() {
			w.releaseOnce()
			c.Writer = w.ResponseWriter
		}()
		c.Next()
	}
}

// gatedWriter gives the request's slot back at the answer's first write.
type gatedWriter struct {
	gin.ResponseWriter
	release func()
	once    sync.Once
}

func (w *gatedWriter) releaseOnce() { w.once.Do(w.release) }

func (w *gatedWriter) WriteHeaderNow() {
	w.releaseOnce()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *gatedWriter) Write(b []byte) (int, error) {
	w.releaseOnce()
	return w.ResponseWriter.Write(b)
}

func (w *gatedWriter) WriteString(s string) (int, error) {
	w.releaseOnce()
	return w.ResponseWriter.WriteString(s)
}

func (w *gatedWriter) Flush() {
	w.releaseOnce()
	w.ResponseWriter.Flush()
}

func (w *gatedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.releaseOnce()
	return w.ResponseWriter.Hijack()
}
