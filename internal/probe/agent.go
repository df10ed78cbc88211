package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// AgentCheck is a target's agent check, HAProxy's agent-check: a small
// program next to the backend that answers one line saying how the
// backend wants to be treated (see AgentReply). It runs on its own
// schedule, independently of the target's check.
type AgentCheck struct {
	Host     string        // agent-addr; the target's host when empty
	Port     int           // agent-port
	Interval time.Duration // agent-inter
	// Timeout bounds one query, connect included.
	Timeout time.Duration
	// Send is written verbatim once connected (agent-send); "" sends
	// nothing. Never shown: an operator may put a token in it.
	Send string
}

// Address is the agent's host:port, the target's host when Host is empty.
func (a *AgentCheck) Address(t *Target) string {
	host := a.Host
	if host == "" {
		host = t.Host
	}
	return net.JoinHostPort(trimBrackets(host), strconv.Itoa(a.Port))
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// Agent query failures. None of them changes the backend: HAProxy does not
// count a failed agent as a failed check either (the regular check tests
// the service), and an incomplete line is ignored there as well.
var (
	// ErrAgentIncomplete: the agent closed before a CR or LF.
	ErrAgentIncomplete = errors.New("agent closed the connection without a complete line")
	// ErrAgentLong: no CR or LF within MaxAgentLine bytes.
	ErrAgentLong = fmt.Errorf("agent line longer than %d bytes", MaxAgentLine)
	// ErrAgentTimeout: no complete line within the agent's timeout.
	ErrAgentTimeout = errors.New("no complete line within the timeout")
)

// AgentDialer opens the connection to an agent.
type AgentDialer func(ctx context.Context, network, address string) (net.Conn, error)

// QueryAgent connects to the agent of t, sends AgentCheck.Send and reads one
// line, all within the agent's timeout, and parses it. t.Agent must be set.
// dial nil uses a net.Dialer.
func QueryAgent(ctx context.Context, t *Target, dial AgentDialer) (AgentReply, error) {
	a := t.Agent
	timeout := orDefault(a.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	addr := a.Address(t)
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return AgentReply{}, agentErr(ctx, addr, "", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if a.Send != "" {
		if _, err := io.WriteString(conn, a.Send); err != nil {
			return AgentReply{}, agentErr(ctx, addr, "send", err)
		}
	}
	line, err := readAgentLine(conn)
	if err != nil {
		return AgentReply{}, agentErr(ctx, addr, "read", err)
	}
	// An agent that echoes its request must not put a token sent with it
	// on the status page (agent_withhold.go).
	return parseAgentReply(line, newSendPieces(a.Send).withhold), nil
}

// agentErr names the address and what failed (op; "" for the dial, whose
// error says "connect:" itself); the deadline, whether the
// connection's or the context's (whose watcher closes the connection),
// reads as ErrAgentTimeout.
func agentErr(ctx context.Context, addr, op string, err error) error {
	var opErr *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		err = ErrAgentTimeout
	case ctx.Err() != nil:
		err = ctx.Err()
	case errors.As(err, &opErr) && opErr.Err != nil:
		// "connection refused", not "dial tcp 10.0.0.5:9999: connect:
		// connection refused": the address is named once, and a local
		// port, new with every query, not at all.
		err = opErr.Err
	}
	if op == "" || errors.Is(err, ErrAgentIncomplete) || errors.Is(err, ErrAgentLong) || errors.Is(err, ErrAgentTimeout) {
		return fmt.Errorf("agent %s: %w", addr, err)
	}
	return fmt.Errorf("agent %s: %s: %w", addr, op, err)
}

// readAgentLine reads up to the first CR or LF, at most MaxAgentLine bytes
// before it; what follows the terminator is never read.
func readAgentLine(r io.Reader) (string, error) {
	buf := make([]byte, MaxAgentLine+1)
	n := 0
	for {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexAny(buf[n:n+m], "\r\n"); i >= 0 {
			return string(buf[:n+i]), nil
		}
		n += m
		if n > MaxAgentLine {
			return "", ErrAgentLong
		}
		if errors.Is(err, io.EOF) {
			return "", ErrAgentIncomplete
		}
		if err != nil {
			return "", err
		}
	}
}
