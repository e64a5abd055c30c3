package controllers_test

import (
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

// db is this package's migrated test database.
var db *gorm.DB

func TestMain(m *testing.M) {
	if os.Getenv(testWorkerEnv) != "" { // started again as a media worker (media_worker_test.go)
		os.Exit(runTestWorker())
	}
	gin.SetMode(gin.TestMode)
	testdb.Main(m, &db)
}
