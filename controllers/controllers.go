// Package controllers holds the Gin handlers, one file per resource, each the twin of an
// Express controller of the Prisma version. A handler parses and checks the request
// (input.go), calls the store or a service, and shapes the answer; it holds no SQL. Handlers
// return errors (package errs) instead of writing error responses; middleware.ErrorHandler
// maps them. Every controller is a struct whose dependencies are passed in by the routes
// package, so tests build the same structs against a test database.
package controllers
