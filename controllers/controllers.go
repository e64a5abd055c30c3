// Package controllers holds the Gin handlers, one file per resource. Handlers return errors
// (see middleware.Error) instead of writing error responses; middleware.ErrorHandler maps them.
// Every controller is a struct whose dependencies (database, config, logger) are passed in by
// the routes package, so tests build the same structs against a test database.
package controllers
