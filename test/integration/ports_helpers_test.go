package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Ports for servers a test starts itself (backline, nginx, redis-server)
// and for "nothing listens here" targets.
//
// A port the kernel picked for a :0 listener that was closed again is free
// for every other bind(0) on the machine until our server binds it, and go
// test runs packages in parallel, each full of httptest servers: now and
// then one took the port first, and the daemon failed to start (or, for a
// closed port, something answered). With a fixture, the ports come from
// the block it reserves and leaves free for this (base+4900..base+4999,
// below the kernel's ephemeral range, which starts at 32768): only this
// process hands them out. Without one (BACKLINE_FIXTURE_ENV unset) they
// come from :0 as before.
const (
	testPortsOffset = 4900
	testPortsCount  = 100
)

var testPorts struct {
	once sync.Once
	base int // 0: no fixture, use :0
	mu   sync.Mutex
	next int
}

// fixturePortBase reads BACKLINE_FIXTURE_PORT_BASE from the fixture's env
// file; 0 when there is none.
func fixturePortBase() int {
	path := os.Getenv("BACKLINE_FIXTURE_ENV")
	if path == "" {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "BACKLINE_FIXTURE_PORT_BASE="); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n+testPortsOffset+testPortsCount <= 32768 {
				return n
			}
		}
	}
	return 0
}

// reservedPort hands out the next port of the fixture's test block that
// nothing listens on, round robin; 0 when there is no fixture or every
// port of the block is taken.
func reservedPort() int {
	testPorts.once.Do(func() { testPorts.base = fixturePortBase() })
	if testPorts.base == 0 {
		return 0
	}
	testPorts.mu.Lock()
	defer testPorts.mu.Unlock()
	for range testPortsCount {
		port := testPorts.base + testPortsOffset + testPorts.next
		testPorts.next = (testPorts.next + 1) % testPortsCount
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			ln.Close()
			return port
		}
	}
	return 0
}

// freePort returns a loopback port for a server the test is about to start.
func freePort(t *testing.T) int {
	t.Helper()
	if port := reservedPort(); port != 0 {
		return port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on (nor will, from
// the fixture's block, while this process does not hand it out again).
func closedPort(t *testing.T) int {
	t.Helper()
	return freePort(t)
}
