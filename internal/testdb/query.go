package testdb

import (
	"reflect"
	"testing"

	"gorm.io/gorm"
)

// MustScan runs query on db and scans its result into dst, failing the test when the query
// fails or, unless dst is a slice, when it returns no row. A check that reads the database
// back must not pass on the zero value a failed or empty query leaves in dst.
func MustScan(t testing.TB, db *gorm.DB, dst any, query string, args ...any) {
	t.Helper()
	if reflect.Indirect(reflect.ValueOf(dst)).Kind() == reflect.Slice {
		if err := db.Raw(query, args...).Scan(dst).Error; err != nil {
			t.Fatalf("%v\n%s", err, query)
		}
		return
	}
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			t.Fatalf("%v\n%s", err, query)
		}
		t.Fatalf("no row from\n%s", query)
	}
	if err := db.ScanRows(rows, dst); err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
}

// MustRun runs statement on db, failing the test when it fails, and returns the number of
// rows it affected, so that a setup step can also show it changed what it meant to.
func MustRun(t testing.TB, db *gorm.DB, statement string, args ...any) int64 {
	t.Helper()
	res := db.Exec(statement, args...)
	if res.Error != nil {
		t.Fatalf("%v\n%s", res.Error, statement)
	}
	return res.RowsAffected
}
