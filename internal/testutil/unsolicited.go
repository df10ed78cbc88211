package testutil

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// ProvokeUnsolicitedAnswer makes net/http's Transport log what a server
// writes unasked on an idle keep-alive connection (with the standard
// logger, every byte quoted): it GETs one answer from a local server,
// which then writes second on the idle connection. The caller waits for
// the log line.
func ProvokeUnsolicitedAnswer(t testing.TB, second string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answered := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		<-answered
		_, _ = c.Write([]byte(second))
		_, _ = io.Copy(io.Discard, c)
	}()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String())
	if err != nil {
		close(answered)
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	close(answered)
}
