package routes_test

import (
	"testing"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

var db *gorm.DB

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	testdb.Main(m, &db)
}
