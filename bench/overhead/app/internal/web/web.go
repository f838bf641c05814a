// Package web serves the inspector: an HTML form, a JSON API and a zip of what was seen.
package web

import (
	"archive/zip"
	"compress/gzip"
	"encoding/json"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"nbf.bench/overhead/internal/inspect"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>Go inspector {{.Version}}</title>
<form method="post" action="/api/inspect"><textarea name="src"></textarea><button>Inspect</button></form>
<p>{{len .Seen}} files inspected since {{.Started.Format "2006-01-02 15:04:05"}}.</p>`))

// Server keeps the files it was sent, in memory.
type Server struct {
	Version string
	Log     *slog.Logger
	started time.Time
	mu      sync.RWMutex
	seen    map[string][]byte
}

// New returns a server reporting version.
func New(version string, log *slog.Logger) *Server {
	return &Server{Version: version, Log: log, started: time.Now(), seen: map[string][]byte{}}
}

// Handler routes the service's endpoints, gzip-compressing responses when asked.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("POST /api/inspect", s.inspect)
	mux.HandleFunc("GET /api/bundle.zip", s.bundle)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return gzipped(mux)
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_ = page.Execute(w, map[string]any{"Version": s.Version, "Seen": s.seen, "Started": s.started})
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request) {
	src := []byte(r.FormValue("src"))
	name := r.FormValue("name")
	if name == "" {
		name = "input.go"
	}
	summary, err := inspect.File(name, src)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	s.mu.Lock()
	s.seen[name] = src
	s.mu.Unlock()
	s.Log.Info("inspected", "name", name, "funcs", len(summary.Funcs))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(summary)
}

func (s *Server) bundle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/zip")
	z := zip.NewWriter(w)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for name, src := range s.seen {
		f, err := z.Create(name)
		if err != nil {
			return
		}
		_, _ = f.Write(src)
	}
	_ = z.Close()
}

type gzipWriter struct {
	http.ResponseWriter
	z io.Writer
}

func (g gzipWriter) Write(b []byte) (int, error) { return g.z.Write(b) }

func gzipped(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		z := gzip.NewWriter(w)
		defer z.Close()
		next.ServeHTTP(gzipWriter{w, z}, r)
	})
}
