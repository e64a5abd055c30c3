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
	// Redis, when set (REDIS_URL), is reported by /readyz; nil means no Redis to report.
	Redis interface{ Ping(context.Context) error }
}

// Live answers 200 while the process runs (GET /healthz).
func (h Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when the database answers a ping within two seconds, else 503
// (GET /readyz), so a load balancer stops sending traffic while the database is away. With
// REDIS_URL it also says whether Redis answers ("redis": "ok" or "unreachable"), but stays
// 200 without it: the rate limits then hold per instance (degraded, not unready), and taking
// every instance out of the load balancer because Redis is away would stop the whole service.
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
			body["redis"] = "unreachable"
		}
	}
	c.JSON(http.StatusOK, body)
	return nil
}
