package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
)

// serveFloor is the "go-floor" peer: the thinnest HTTP/1.1 keep-alive proxy
// Go's goroutine-per-connection model allows, to tell what the runtime
// costs from what backline's gateway costs. It forwards heads verbatim
// (no parsing beyond finding the end of the head and Content-Length), keeps
// idle origin connections in a pool without checking them, and supports
// only what the bench's origin sends (Content-Length bodies). Not a proxy
// anyone should run: no validation, no hop-by-hop handling, no timeouts.
func serveFloor(addr, origin string) {
	pool := &floorPool{origin: origin}
	servePeer(addr, ".floor", func(c net.Conn) { floorServe(c, pool) })
}

type floorOrigin struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

type floorPool struct {
	origin string
	mu     sync.Mutex
	idle   []*floorOrigin
}

func (p *floorPool) get() (*floorOrigin, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		o := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return o, nil
	}
	p.mu.Unlock()
	c, err := net.Dial("tcp", p.origin)
	if err != nil {
		return nil, err
	}
	return &floorOrigin{conn: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (p *floorPool) put(o *floorOrigin) {
	p.mu.Lock()
	p.idle = append(p.idle, o)
	p.mu.Unlock()
}

func floorServe(c net.Conn, pool *floorPool) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	for {
		// The origin connection is taken once the request has begun: a
		// client that leaves does not cost an origin connection.
		if _, err := r.Peek(1); err != nil {
			return
		}
		o, err := pool.get()
		if err != nil {
			return
		}
		// Request: client -> origin.
		if err := floorCopyMessage(o.w, r); err != nil {
			o.conn.Close()
			return
		}
		if err := o.w.Flush(); err != nil {
			o.conn.Close()
			return
		}
		// Answer: origin -> client.
		if err := floorCopyMessage(w, o.r); err != nil {
			o.conn.Close()
			return
		}
		pool.put(o)
		if err := w.Flush(); err != nil {
			return
		}
	}
}

var contentLength = []byte("content-length:")

// floorCopyMessage copies one head and its Content-Length body.
func floorCopyMessage(dst *bufio.Writer, src *bufio.Reader) error {
	var length int64
	for {
		line, err := src.ReadSlice('\n')
		if err != nil {
			return err
		}
		if _, err := dst.Write(line); err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line[len(contentLength):])), 10, 64)
			if err != nil || n < 0 {
				return errors.New("bad Content-Length")
			}
			length = n
		}
	}
	_, err := io.CopyN(dst, src, length)
	return err
}
