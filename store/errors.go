package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/errs"
)

// translate is the one place where the database's errors become kinds. Kinds pass through;
// every exported method of the store returns its errors through here. The PostgreSQL error,
// if any, stays wrapped (errs.Error.Err), so a method that knows what a constraint means can
// still read it (constraintOf) and say it in its own words.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return errs.NotFound("Not found")
	}
	if isUnavailable(err) {
		return unavailable(err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return &errs.Error{Kind: errs.KindConflict, Code: "conflict", Message: "Already exists", Err: err}
		case pgErr.Code == "23503": // foreign_key_violation: what the row points at is gone
			return &errs.Error{Kind: errs.KindNotFound, Code: "not_found", Message: "Not found", Err: err}
		case pgErr.Code == "23514": // check_violation: a rule of the data (no self-follow...)
			return &errs.Error{Kind: errs.KindInvalid, Code: errs.CodeValidationFailed,
				Message: "The request breaks a rule of the data", Err: err}
		case pgErr.Code == "40P01", pgErr.Code == "40001": // deadlock, serialization: retries ran out
			return errs.Unavailable("The service is busy, please retry", err)
		case pgErr.Code[:2] == "22": // data exception: a value the column cannot hold
			return &errs.Error{Kind: errs.KindInvalid, Code: errs.CodeValidationFailed,
				Message: "The request has a value that cannot be stored", Err: err}
		}
	}
	return errs.Internal(err)
}

func unavailable(err error) error {
	return errs.Unavailable("The service is temporarily unavailable, please retry", err)
}

// constraintOf names the constraint a translated unique or foreign-key violation hit ("" for
// any other error).
func constraintOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// isUnavailable reports whether err means the database could not be reached or is going away,
// as opposed to a bug in a query: such requests answer 503 and the pool reconnects by itself.
func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return pgErr.Code != "57014" // 57014 is a cancelled query, not an outage
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.Is(err, driver.ErrBadConn), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return true
	case isPoolClosed(err):
		return true
	}
	return false
}

// isPoolClosed reports database/sql's error for a closed pool, which a request still running
// while the server shuts down meets. database/sql does not export it, so it is known by its
// message (unchanged since Go 1.0).
func isPoolClosed(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "sql: database is closed" {
			return true
		}
	}
	return false
}
