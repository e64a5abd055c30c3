package routes

import (
	"net/http"
	"net/http/pprof"
)

// PprofHandler serves the runtime profiles of net/http/pprof under /debug/pprof/ (CPU, heap,
// allocs, goroutines, execution trace). main serves it on the listener of PPROF_ADDR only,
// never through the API's router: the package's init also registers these handlers on
// http.DefaultServeMux, which nothing in this server serves.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the index and every named profile (heap, allocs...)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
