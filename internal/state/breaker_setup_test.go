package state

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// Connection setup (HELLO, AUTH, SELECT, CLIENT ...) is judged with the
// command that needed the connection, against servers that misbehave in
// the ways a dying Redis does.

// hangUpListener accepts connections and closes them at once: a Redis
// whose port answers but which serves nothing (each new connection's
// HELLO gets EOF). accepted counts the connections.
func hangUpListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	accepted = new(atomic.Int64)
	return testutil.ServeTCP(t, func(c net.Conn) { accepted.Add(1); c.Close() }), accepted
}

// With the defaults a failed HELLO opens the breaker at once, so the
// HELLO of go-redis's retry fails fast instead of waiting on Redis again,
// as before connection setup was told apart (the retry's dial is not
// hooked: at most two connections).
func TestRedisBreakerDefaultOpensOnTheFirstHello(t *testing.T) {
	addr, accepted := hangUpListener(t)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1})
	t.Cleanup(func() { c.Close() })
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{}, log.change, log.reject)
	c.AddHook(b)
	if err := c.Get(context.Background(), "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("command to a dead Redis: %v, want the retry failed fast", err)
	}
	if b.Up() || log.String() != "[down]" {
		t.Fatalf("up %v transitions %s", b.Up(), log)
	}
	if n := accepted.Load(); n > 2 {
		t.Errorf("%d connections for one command, want at most 2", n)
	}
}

// A command on a new connection sends HELLO first (and go-redis retries
// once, with another HELLO): one failed command is one failure, not three,
// so consecutive_failures 2 needs two failed commands.
func TestRedisBreakerCountsACommandOnceWithItsConnectionSetup(t *testing.T) {
	addr, _ := hangUpListener(t)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1})
	t.Cleanup(func() { c.Close() })
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{ConsecutiveFailures: 2}, log.change, log.reject)
	c.AddHook(b)
	ctx := context.Background()
	if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("first command: %v, want EOF", err)
	}
	if !b.Up() {
		t.Fatal("one failed command (with its HELLOs) opened a breaker that needs two")
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "a"); return nil }); err == nil {
		t.Fatal("pipeline to a dead Redis succeeded")
	}
	if b.Up() || log.String() != "[down]" {
		t.Fatalf("two failed commands: up %v transitions %s", b.Up(), log)
	}
	// Open: a new connection's setup fails fast like any command.
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("while open: %v", err)
	}
}

func TestConnectionSetupCommands(t *testing.T) {
	ctx := context.Background()
	cmd := func(args ...any) redis.Cmder { return redis.NewStatusCmd(ctx, args...) }
	for _, c := range []struct {
		cmds []redis.Cmder
		want bool
	}{
		{[]redis.Cmder{cmd("hello", 3)}, true},
		{[]redis.Cmder{cmd("auth", "user", "pw")}, true},
		{[]redis.Cmder{cmd("select", 2), cmd("client", "setinfo", "LIB-NAME", "go-redis"), cmd("readonly")}, true},
		{[]redis.Cmder{cmd("get", "k")}, false},
		{[]redis.Cmder{cmd("select", 2), cmd("get", "k")}, false},
		{[]redis.Cmder{cmd("HELLO", 3)}, false}, // go-redis writes its own in lower case
		{[]redis.Cmder{cmd()}, false},
		{nil, false},
	} {
		if got := connectionSetup(c.cmds); got != c.want {
			t.Errorf("%v: %v, want %v", c.cmds, got, c.want)
		}
	}
}

// helloOnlyServer answers a new connection's setup (HELLO with an error, as
// Redis before 6 does; anything else with +OK) and never answers a data
// command: a Redis that accepts connections but cannot serve (stuck in a
// slow script, swapping).
func helloOnlyServer(t *testing.T) string {
	t.Helper()
	return testutil.ServeTCP(t, func(c net.Conn) { go serveSetupOnly(c) })
}

// serveSetupOnly reads RESP arrays of bulk strings from c; it stops
// answering at the first command that is not connection setup.
func serveSetupOnly(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readRESPCommand(r)
		if err != nil {
			return
		}
		switch strings.ToLower(args[0]) {
		case "hello":
			io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
		case "client", "select", "auth", "readonly":
			io.WriteString(c, "+OK\r\n")
		default:
			io.Copy(io.Discard, r) // hang until the client gives up
			return
		}
	}
}

func readRESPCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "*") {
		return nil, errors.New("not an array")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 || n > 64 {
		return nil, errors.New("bad array length")
	}
	args := make([]string, n)
	for i := range args {
		head, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(head, "$") {
			return nil, errors.New("not a bulk string")
		}
		size, err := strconv.Atoi(strings.TrimSpace(head[1:]))
		if err != nil || size < 0 || size > 1<<16 {
			return nil, errors.New("bad bulk length")
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// A Redis whose connection setup answers but whose commands time out: the
// timed-out connection is dropped, so every command comes with a fresh
// setup that Redis answers. The setup's answer must not end the streak,
// or consecutive_failures above 1 would never be reached.
func TestRedisBreakerSetupAnswersDoNotEndAStreak(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: helloOnlyServer(t), MaxRetries: -1, ReadTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{ConsecutiveFailures: 3}, log.change, log.reject)
	c.AddHook(b)
	ctx := context.Background()
	for i := range 3 {
		if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("command %d: %v, want a timeout", i, err)
		}
		if up := b.Up(); up != (i < 2) {
			t.Fatalf("after %d timed-out commands: up %v (transitions %s)", i+1, up, log)
		}
	}
}
