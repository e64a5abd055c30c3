package middleware

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests and observes their latency by method, route template and status.
// /metrics is public and every label value is a new series kept for the life of the process,
// so no value may come from the client as sent: the route is Gin's template
// (/api/videos/:id), so ids do not explode the label set, and requests that match no route
// share the label "unmatched"; methods other than the standard ones share "OTHER".
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// series caches the counter and the histogram of each label set: WithLabelValues hashes
	// the three values and looks them up under a lock, for each of the two vectors, and the
	// status needs a string, all on every request. The keys are those same bounded label
	// sets, so the cache holds no more than the vectors do.
	series sync.Map // seriesKey -> *series
}

type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// seriesFor returns the cached series of a label set, creating them on first use.
func (m *Metrics) seriesFor(k seriesKey) *series {
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	status := strconv.Itoa(k.status)
	s, _ := m.series.LoadOrStore(k, &series{
		requests: m.requests.WithLabelValues(k.method, k.route, status),
		latency:  m.latency.WithLabelValues(k.method, k.route, status),
	})
	return s.(*series)
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.inFlight)
	return m
}

// Middleware records every request that passes through it.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		m.inFlight.Inc()
		// Deferred, so a request aborted with http.ErrAbortHandler (a client that went away,
		// counted as 499) is counted too.
		defer func() {
			m.inFlight.Dec()
			route := c.FullPath()
			if route == "" {
				route = "unmatched"
			}
			s := m.seriesFor(seriesKey{method: methodLabel(c.Request.Method), route: route, status: c.Writer.Status()})
			s.requests.Inc()
			s.latency.Observe(time.Since(start).Seconds())
		}()
		c.Next()
	}
}

// knownMethods are the methods of RFC 9110 and PATCH; a method is a free-form token, so any
// other one could be made up per request.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true,
}

// methodLabel is the method as a label value: itself when standard, else "OTHER".
func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return "OTHER"
}
