// Command bare is the baseline of `authload -mode wrk`: a bare net/http
// handler, in its own process, that sends the headers a successful cached
// nginx answer of backline carries and nothing else. It listens on the
// loopback address given by -listen until it is killed.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !strings.HasPrefix(host, "127.") {
		log.Fatal("bare: -listen must be a 127.x.x.x:port address")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// The parent reads the chosen port from the first line.
	log.SetFlags(0)
	log.Printf("listening %s", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(handle), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// handle sends what backline's cached nginx answer carries.
func handle(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Nauthilus-Session", "2ZxTy8v3MbQ0cLkP9hJ1sA4dE7f")
	hdr.Set("Auth-Status", "OK")
	hdr.Set("Auth-User", r.Header.Get("Auth-User"))
	hdr.Set("X-Nauthilus-Memory-Cache", "Hit")
	hdr.Set("Auth-Server", "127.0.0.1")
	hdr.Set("Auth-Port", "143")
	w.WriteHeader(http.StatusOK)
}
