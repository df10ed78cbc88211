package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

// firstPort is where listeners start. It lies below the ephemeral range
// (32768+ on Linux), which the dials of the measurement use, and below the
// real-server fixture (21000+) for sizes up to about 18,000: binding ":0"
// 10,000 times races the TIME_WAIT sockets of an earlier run for ephemeral
// ports and fails.
const firstPort = 2100

// serve opens n loopback listeners that accept and close, prints their
// ports and "ready", and runs until stdin closes (the driver exiting).
// Ports already in use are skipped.
func serve(n int) error {
	if _, err := raiseFileLimit(uint64(n) + 4096 + 64); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	listeners := make([]net.Listener, 0, n)
	for port := firstPort; len(listeners) < n; port++ {
		if port > 32767 {
			return fmt.Errorf("only %d free ports between %d and 32767", len(listeners), firstPort)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		listeners = append(listeners, ln)
		fmt.Fprintln(out, ln.Addr().(*net.TCPAddr).Port)
		go acceptAndClose(ln)
	}
	fmt.Fprintln(out, "ready")
	if err := out.Flush(); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, ln := range listeners {
		ln.Close()
	}
	return nil
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
