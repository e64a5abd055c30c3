package auth_test

import (
	"testing"

	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

// db is this package's migrated test database: the session tests run auth.Service against
// real PostgreSQL, with its real locks.
var db *gorm.DB

func TestMain(m *testing.M) {
	testdb.Main(m, &db)
}
