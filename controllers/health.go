package controllers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/middleware"
)

// Health answers the liveness and readiness probes.
type Health struct {
	DB *gorm.DB
}

// Live answers 200 while the process runs (GET /healthz).
func (h Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when the database answers a ping within two seconds, else 503
// (GET /readyz), so a load balancer stops sending traffic while the database is away.
func (h Health) Ready(c *gin.Context) error {
	sqlDB, err := h.DB.DB()
	if err != nil {
		return middleware.Internal(err)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		return &middleware.Error{Kind: middleware.KindUnavailable, Code: "unavailable",
			Message: "The database is not reachable", Err: err}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "database": "ok"})
	return nil
}
