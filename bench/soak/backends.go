package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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
