package store_test

import (
	"testing"

	"gorm.io/gorm"

	"tiktok/internal/testdb"
)

// db is this package's migrated test database.
var db *gorm.DB

func TestMain(m *testing.M) { testdb.Main(m, &db) }
