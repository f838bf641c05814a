// A small HTTP service for the example stack: it reports the platform it was built for,
// so a deploy can check it runs the image native to its nodes.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	// -arch prints the architecture the binary was compiled for and exits: the example
	// stack's smoke test runs it on each platform's own node.
	arch := flag.Bool("arch", false, "print the architecture this binary was built for, and exit")
	flag.Parse()
	if *arch {
		fmt.Println(runtime.GOARCH)
		return
	}

	addr := ":8080"
	if port := os.Getenv("PORT"); port != "" {
		addr = ":" + port
	}
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s/%s\n", runtime.GOOS, runtime.GOARCH)
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	log.Printf("listening on %s (%s/%s)", addr, runtime.GOOS, runtime.GOARCH)
	log.Fatal(http.ListenAndServe(addr, nil))
}
