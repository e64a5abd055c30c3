package middleware

import (
	"net/http"
	"strconv"
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
			status := strconv.Itoa(c.Writer.Status())
			method := methodLabel(c.Request.Method)
			m.requests.WithLabelValues(method, route, status).Inc()
			m.latency.WithLabelValues(method, route, status).Observe(time.Since(start).Seconds())
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
