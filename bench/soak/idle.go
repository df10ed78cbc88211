package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleHolder keeps n keep-alive connections to the API open and idle: each
// sends one GET /healthz (so the server treats it as an idle keep-alive
// connection, not one still sending its first request) and then waits. A
// connection the daemon closes (its idle timeout, or a connection cap) is
// counted and opened again after a back-off, so the daemon carries about n
// idle connections for the whole run.
type idleHolder struct {
	addr string
	want int

	open       atomic.Int64 // connections open and past their first answer
	closed     atomic.Int64 // closed by the daemon while idle
	dialFails  atomic.Int64 // dial or first request failed
	firstError atomic.Value // string: the first dial/request error
	wg         sync.WaitGroup
}

// Back-off between reopenings of one slot: a daemon that refuses
// connections must not be hammered by 5,000 reconnect loops.
const (
	idleMinBackoff = time.Second
	idleMaxBackoff = 30 * time.Second
	idleDialLimit  = 5 * time.Second
)

// startIdle opens n connections, at most 64 dials at a time, and returns
// once every slot made its first attempt (or ctx ended).
func startIdle(ctx context.Context, addr string, n int) *idleHolder {
	h := &idleHolder{addr: addr, want: n}
	gate := make(chan struct{}, 64)
	var first sync.WaitGroup
	for range n {
		first.Add(1)
		h.wg.Add(1)
		go h.slot(ctx, gate, &first)
	}
	first.Wait()
	return h
}

// slot holds one connection until ctx is done. The loop is bounded by ctx
// (the run's length) and by at least idleMinBackoff per round.
func (h *idleHolder) slot(ctx context.Context, gate chan struct{}, first *sync.WaitGroup) {
	defer h.wg.Done()
	backoff := idleMinBackoff
	once := sync.OnceFunc(first.Done)
	defer once()
	for ctx.Err() == nil {
		gate <- struct{}{}
		c, err := h.dial(ctx)
		<-gate
		once()
		if err != nil {
			h.dialFails.Add(1)
			h.firstError.CompareAndSwap(nil, err.Error())
		} else {
			h.open.Add(1)
			opened := time.Now()
			h.waitClosed(ctx, c)
			h.open.Add(-1)
			if ctx.Err() != nil {
				return
			}
			h.closed.Add(1)
			if time.Since(opened) > 10*time.Second {
				backoff = idleMinBackoff // an idle timeout, not a refusal
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, idleMaxBackoff)
	}
}

// dial opens a connection and completes one keep-alive request on it.
func (h *idleHolder) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: idleDialLimit}
	c, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(idleDialLimit))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", h.addr); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.Close {
		c.Close()
		return nil, fmt.Errorf("daemon answered /healthz with Connection: close")
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// waitClosed blocks until the daemon closes c or ctx ends. Nothing more is
// ever sent, so any read result means the connection is gone.
func (h *idleHolder) waitClosed(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	var b [1]byte
	_, _ = c.Read(b[:])
	c.Close()
}

// wait returns once every slot has ended (after ctx is done).
func (h *idleHolder) wait() { h.wg.Wait() }

func (h *idleHolder) errorText() string {
	if s, ok := h.firstError.Load().(string); ok {
		return s
	}
	return ""
}
