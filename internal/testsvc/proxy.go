package testsvc

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a real server and plays its outages: a test points its
// client at Addr, then makes the server unreachable (SetDown) or drops a few connections
// (Drop), which no mock could make as real: the client sees refused dials and cut streams.
type Proxy struct {
	Addr string // where the proxy listens, host:port

	mu      sync.Mutex
	open    []net.Conn
	down    bool
	toDrop  int
	dropped int
}

// NewProxy starts a proxy to target (host:port), stopped when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); p.cutOpen() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.refuse() {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// refuse says whether a new connection is to be closed at once (down, or one of the dropped).
func (p *Proxy) refuse() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return true
	}
	if p.toDrop > 0 {
		p.toDrop--
		p.dropped++
		return true
	}
	return false
}

// SetDown makes the server unreachable (open connections cut, new ones closed at once) until
// SetDown(false).
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.cutOpen()
	}
}

// Drop cuts the connections open now (a client's idle ones too) and closes the next n new
// ones at once; Dropped counts those.
func (p *Proxy) Drop(n int) {
	p.mu.Lock()
	p.toDrop, p.dropped = n, 0
	p.mu.Unlock()
	p.cutOpen()
}

// Dropped is how many connections were closed at once since the last Drop.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *Proxy) cutOpen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}
