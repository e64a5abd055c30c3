package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// AddViews adds counts[i] views to video ids[i] in ONE statement (the view counter's batch,
// package viewcount): the arrays go as two parameters, so the statement is the same whatever
// the batch's size. views stops at the integer's maximum rather than fail the batch. The
// trending score is a generated column of views (database/migrations_trending.go), so
// PostgreSQL recomputes it in the same statement, and the trigger that copies it to the tag
// pages' rows follows. Videos deleted meanwhile are skipped. The rows are locked in id order
// first (the materialized CTE: LockRows above the Sort), so two batches sharing videos, from
// two instances flushing at once, wait for each other instead of deadlocking (a plain
// UPDATE ... FROM locks in whatever order its join runs, and did deadlock in the test); a
// deadlock or serialization failure is run again all the same (three attempts in all).
func (s *Videos) AddViews(ctx context.Context, ids, counts []int32) error {
	if len(ids) != len(counts) {
		return errors.New("store: AddViews needs one count per id")
	}
	if len(ids) == 0 {
		return nil
	}
	const stmt = `WITH d AS MATERIALIZED (SELECT * FROM unnest(?::int[], ?::int[]) AS d(id, n)),
		locked AS MATERIALIZED (SELECT v.id FROM videos v WHERE v.id IN (SELECT id FROM d) ORDER BY v.id FOR NO KEY UPDATE)
		UPDATE videos v SET views = LEAST(v.views::bigint + d.n, 2147483647)::int
		FROM d JOIN locked l ON l.id = d.id WHERE v.id = d.id`
	idArr, countArr := intArray(ids), intArray(counts)
	// Not through the slow-statement log: it would print the whole batch (megabytes of ids);
	// the counter logs a failed batch itself, by its size.
	db := s.db.Session(&gorm.Session{Logger: s.db.Logger.LogMode(logger.Silent)}).WithContext(ctx)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = db.Exec(stmt, idArr, countArr).Error; !isRetryable(err) {
			return translate(err)
		}
		time.Sleep(time.Duration(attempt*10) * time.Millisecond)
	}
	return translate(err)
}

// intArray is PostgreSQL's text form of an int[] ("{1,2,3}"); GORM would spread a Go slice
// into a list of parameters.
func intArray(xs []int32) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	b.WriteByte('}')
	return b.String()
}
