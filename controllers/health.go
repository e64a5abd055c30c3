package controllers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/database"
	"tiktok/errs"
	"tiktok/store"
)

// Health answers the liveness and readiness probes.
type Health struct {
	Store *store.Store
	// Redis, when set (REDIS_URL), is reported by /readyz; nil means no Redis to report.
	Redis interface{ Ping(context.Context) error }
	// Replicas, when set, are reported by the readiness probe.
	Replicas ReplicaReporter
	// MediaOff says uploads are published unprocessed (ffmpeg is missing): /readyz reports
	// it under "media"; the status stays as it is (a machine without ffmpeg is a supported
	// set-up, the two commands need nothing more).
	MediaOff bool
}

// ReplicaReporter reports the read replicas' states (database.Replicas does).
type ReplicaReporter interface {
	Statuses() []database.ReplicaStatus
}

// Live answers 200 while the process runs (GET /healthz).
func (h Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when the database answers a ping within two seconds, else 503
// (GET /readyz), so a load balancer stops sending traffic while the database is away. With
// REDIS_URL it also says whether Redis answers ("redis": "ok" or "unreachable"), and with
// read replicas it lists each one's state (as of its last check, about a second old). Redis
// away or a replica down or lagging makes the status "degraded" but not the answer a 503: the
// rate limits then hold per instance and the primary serves the replicas' reads, and taking
// every instance out of the load balancer for either would stop the whole service.
func (h Health) Ready(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		return errs.Unavailable("The database is not reachable", err)
	}
	body := gin.H{"status": "ok", "database": "ok"}
	if h.Redis != nil {
		body["redis"] = "ok"
		if err := h.Redis.Ping(ctx); err != nil {
			body["redis"], body["status"] = "unreachable", "degraded"
		}
	}
	body["media"] = "ok"
	if h.MediaOff {
		body["media"] = "ffmpeg missing: uploads are published unprocessed"
	}
	if h.Replicas != nil {
		replicas := h.Replicas.Statuses()
		for _, r := range replicas {
			if r.Status != database.ReplicaOK {
				body["status"] = "degraded"
			}
		}
		body["replicas"] = replicas
	}
	c.JSON(http.StatusOK, body)
	return nil
}
