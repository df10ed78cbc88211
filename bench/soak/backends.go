package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// imapBackend is a fake IMAP server on 127.0.0.1: it greets "* OK", answers
// CAPABILITY and LOGOUT, and refuses everything else. That is all a deep
// check without credentials asks. A flapping backend closes its listener and
// every open session for half of each period, then listens on the same port
// again, so the daemon sees refused connects and cut dialogues.
type imapBackend struct {
	name   string
	port   int
	flaps  bool
	period time.Duration // one up phase plus one down phase
	offset time.Duration // where in the period this backend starts

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}

	up       atomic.Bool
	sessions atomic.Int64 // sessions served, for the report
	downs    atomic.Int64 // up->down transitions
	relisten atomic.Int64 // failed attempts to listen again on the port
}

// Bounds of one session: a probe needs four lines and well under a second.
const (
	maxSessionLines = 20
	sessionDeadline = 5 * time.Second
)

func startBackends(ctx context.Context, n int, period time.Duration) ([]*imapBackend, error) {
	var out []*imapBackend
	for i := range n {
		b := &imapBackend{conns: map[net.Conn]struct{}{}, period: period}
		// The second half flaps, each at its own phase so that their
		// outages overlap only partly.
		if i >= n-n/2 {
			b.flaps = true
			b.name = fmt.Sprintf("flap-%02d", i)
			b.offset = period * time.Duration(i) / time.Duration(n)
		} else {
			b.name = fmt.Sprintf("stable-%02d", i)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		b.port = ln.Addr().(*net.TCPAddr).Port
		b.setListener(ln)
		out = append(out, b)
		if b.flaps {
			go b.flap(ctx)
		}
	}
	go func() {
		<-ctx.Done()
		for _, b := range out {
			b.goDown()
		}
	}()
	return out, nil
}

func (b *imapBackend) setListener(ln net.Listener) {
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	b.up.Store(true)
	go b.accept(ln)
}

// flap alternates down and up until ctx is done; the loop is bounded by
// ctx's deadline (the run's length) and by one step per half period.
func (b *imapBackend) flap(ctx context.Context) {
	half := b.period / 2
	timer := time.NewTimer(half - b.offset%half)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if b.up.Load() {
			b.goDown()
			b.downs.Add(1)
		} else {
			b.goUp()
		}
		timer.Reset(half)
	}
}

// goDown closes the listener and cuts every session in progress.
func (b *imapBackend) goDown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up.Store(false)
	if b.ln != nil {
		_ = b.ln.Close()
		b.ln = nil
	}
	for c := range b.conns {
		_ = c.Close()
	}
}

// goUp listens on the same port again. Another process may have taken the
// port meanwhile; the next period tries again.
func (b *imapBackend) goUp() {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", b.port))
	if err != nil {
		b.relisten.Add(1)
		return
	}
	b.setListener(ln)
}

func (b *imapBackend) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by goDown, or the run ended
		}
		b.mu.Lock()
		if b.ln != ln {
			b.mu.Unlock()
			_ = c.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		go func() {
			b.serve(c)
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
			_ = c.Close()
		}()
	}
}

func (b *imapBackend) serve(c net.Conn) {
	b.sessions.Add(1)
	_ = c.SetDeadline(time.Now().Add(sessionDeadline))
	w := bufio.NewWriter(c)
	say := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	if !say("* OK soak IMAP ready") {
		return
	}
	r := bufio.NewReaderSize(c, 1024)
	for range maxSessionLines {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(strings.TrimSpace(cmd)) {
		case "CAPABILITY":
			if !say("* CAPABILITY IMAP4rev1 AUTH=PLAIN", tag+" OK CAPABILITY completed") {
				return
			}
		case "LOGOUT":
			say("* BYE soak IMAP logging out", tag+" OK LOGOUT completed")
			return
		case "NOOP":
			if !say(tag + " OK NOOP completed") {
				return
			}
		default:
			if !say(tag + " BAD command unknown here") {
				return
			}
		}
	}
}

// backendInfo is what the soak needs to know of one backend.
type backendInfo struct {
	Name  string `json:"name"`
	Port  int    `json:"port"`
	Flaps bool   `json:"flaps"`
}

// backendStats is what the backends process reports when it stops.
type backendStats struct {
	Sessions int64 `json:"sessions"` // probe sessions served
	Outages  int64 `json:"outages"`  // up->down steps of the flapping ones
	Relisten int64 `json:"relisten"` // failed re-listens
}

// runBackendHelper is the backends process: the backends run in their own
// runtime so that the soak's 5,000 idle connections (opened, timed out,
// closed at once) never delay a greeting. It prints the backends as one
// JSON line, serves until SIGTERM, stdin's end (the soak died) or
// lifetime, and prints its statistics as a second line.
func runBackendHelper(n int, period, lifetime time.Duration) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelLife := context.WithTimeout(ctx, lifetime)
	defer cancelLife()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	backends, err := startBackends(ctx, n, period)
	if err != nil {
		log.Fatalf("soak backends: %v", err)
	}
	var infos []backendInfo
	for _, b := range backends {
		infos = append(infos, backendInfo{Name: b.name, Port: b.port, Flaps: b.flaps})
	}
	enc := json.NewEncoder(os.Stdout)
	_ = enc.Encode(infos)
	<-ctx.Done()
	var st backendStats
	for _, b := range backends {
		st.Sessions += b.sessions.Load()
		st.Outages += b.downs.Load()
		st.Relisten += b.relisten.Load()
	}
	_ = enc.Encode(st)
}

// backendHelper is the running backends process, seen from the soak.
type backendHelper struct {
	cmd   *exec.Cmd
	stdin io.Closer
	dec   *json.Decoder
	infos []backendInfo
}

func startBackendHelper(o options, cpu int, lifetime time.Duration) (*backendHelper, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{self, "-backends-helper", "-backends", strconv.Itoa(o.backends),
		"-flap-period", o.flapPeriod.String(), "-duration", lifetime.String()}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	h := &backendHelper{cmd: child(args)}
	h.cmd.Stderr = os.Stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	h.dec = json.NewDecoder(stdout)
	if err := h.dec.Decode(&h.infos); err != nil || len(h.infos) != o.backends {
		h.kill()
		return nil, fmt.Errorf("backends process: %d backends, %v", len(h.infos), err)
	}
	return h, nil
}

// stop ends the backends process and returns its statistics.
func (h *backendHelper) stop() (backendStats, error) {
	var st backendStats
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.dec.Decode(&st) }()
	select {
	case err := <-done:
		h.kill()
		return st, err
	case <-time.After(10 * time.Second):
		h.kill()
		return st, fmt.Errorf("backends process did not report within 10s")
	}
}

func (h *backendHelper) kill() {
	_ = h.stdin.Close()
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}
