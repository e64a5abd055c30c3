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
	// Replicas, when set, are reported by the readiness probe.
	Replicas ReplicaReporter
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
// read replicas it lists each one's state (as of its last check, about a second old); a
// replica down or lagging makes the status "degraded" but not the answer a 503, since the
// primary then serves its reads.
func (h Health) Ready(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		return errs.Unavailable("The database is not reachable", err)
	}
	if h.Replicas == nil {
		c.JSON(http.StatusOK, gin.H{"status": "ok", "database": "ok"})
		return nil
	}
	replicas := h.Replicas.Statuses()
	status := "ok"
	for _, r := range replicas {
		if r.Status != database.ReplicaOK {
			status = "degraded"
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "database": "ok", "replicas": replicas})
	return nil
}
