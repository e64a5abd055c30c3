package controllers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tiktok/errs"
	"tiktok/store"
)

// Health answers the liveness and readiness probes.
type Health struct {
	Store *store.Store
}

// Live answers 200 while the process runs (GET /healthz).
func (h Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when the database answers a ping within two seconds, else 503
// (GET /readyz), so a load balancer stops sending traffic while the database is away.
func (h Health) Ready(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.Store.Ping(ctx); err != nil {
		return errs.Unavailable("The database is not reachable", err)
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "database": "ok"})
	return nil
}
