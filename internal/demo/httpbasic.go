package demo

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// httpsFake is an HTTPS server whose /healthz needs HTTP Basic auth, like
// the nginx of the fixture: 401 with a realm without credentials, 200 "ok"
// with the demo account.
type httpsFake struct {
	ln     net.Listener
	srv    *http.Server
	wg     sync.WaitGroup
	broken atomic.Bool // /healthz answers 503 (the demo page's "break")
}

func (f *httpsFake) setBroken(b bool) { f.broken.Store(b) }

func startHTTPS(cfg *tls.Config) (*httpsFake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	f := &httpsFake{ln: ln}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if f.broken.Load() {
			http.Error(w, "broken on purpose (backline demo)", http.StatusServiceUnavailable)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || !validLogin(user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="backline-demo"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	f.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig:         cfg.Clone(),                // ServeTLS adds h2 to NextProtos; the mail fakes share cfg
		ErrorLog:          log.New(io.Discard, "", 0), // probes hang up early; that is not news
	}
	f.wg.Go(func() {
		if err := f.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("demo https server: %v", err)
		}
	})
	return f, nil
}

func (f *httpsFake) Addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

func (f *httpsFake) Close() {
	_ = f.srv.Close()
	f.wg.Wait()
}
