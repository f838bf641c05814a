// The inspector service: serves internal/web over HTTP, or HTTPS when given a key pair.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"nbf.bench/overhead/internal/web"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	cert := flag.String("cert", "", "TLS certificate (PEM); plain HTTP without it")
	key := flag.String("key", "", "TLS key (PEM)")
	upstream := flag.String("upstream", "", "proxy /upstream/ to this URL")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println(buildNote)
		return
	}

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	mux := http.NewServeMux()
	mux.Handle("/", web.New(buildNote, log).Handler())
	if *upstream != "" {
		target, err := url.Parse(*upstream)
		if err != nil {
			log.Error("bad upstream", "err", err)
			os.Exit(2)
		}
		mux.Handle("/upstream/", http.StripPrefix("/upstream", httputil.NewSingleHostReverseProxy(target)))
	}
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	log.Info("listening", "addr", *addr, "version", buildNote)
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	log.Error("stopped", "err", err)
	os.Exit(1)
}
