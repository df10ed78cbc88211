package state

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/testfixture"
)

// BenchmarkReplyGuardScan is the guard's own cost per reply on a
// long-lived connection: a pipeline's worth (64 HGET-sized bulk replies
// and 64 small HGETALL maps) per read, read through a guarded connection,
// against the same bytes read plainly.
func BenchmarkReplyGuardScan(b *testing.B) {
	one := "$23\r\nimap-backend-2.internal\r\n%2\r\n$7\r\nbackend\r\n$6\r\nimap-2\r\n$4\r\nseen\r\n$10\r\n1733220000\r\n"
	stream := []byte(strings.Repeat(one, 64))
	buf := make([]byte, 32<<10)
	for _, guarded := range []bool{false, true} {
		name := "plain"
		if guarded {
			name = "guarded"
		}
		b.Run(name, func(b *testing.B) {
			var c net.Conn = &repeatConn{reply: stream}
			if guarded {
				c = NewReplyGuard(64 << 20).Wrap(c)
			}
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				for got := 0; got < len(stream); {
					n, err := c.Read(buf[:len(stream)-got])
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/128, "ns/reply")
		})
	}
}

// BenchmarkReplyGuardRoundTrip is one GET of a short value from the
// fixture's real Redis, with and without the guard, interleaved.
func BenchmarkReplyGuardRoundTrip(b *testing.B) {
	fx := testfixture.Load(b)
	ctx := context.Background()
	plain := redis.NewClient(&redis.Options{Addr: fx.Addr("REDIS"), PoolSize: 1})
	defer plain.Close()
	g := NewReplyGuard(64 << 20)
	opt := &redis.Options{Addr: fx.Addr("REDIS"), PoolSize: 1}
	opt.Dialer = g.Dialer(redis.NewDialer(opt))
	guarded := redis.NewClient(opt)
	defer guarded.Close()
	plain.Set(ctx, "backline-bench:guard", "imap-backend-2.internal", 0)
	defer plain.Del(ctx, "backline-bench:guard")
	for _, c := range []struct {
		name string
		c    *redis.Client
	}{{"plain", plain}, {"guarded", guarded}, {"plain-again", plain}, {"guarded-again", guarded}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.c.Get(ctx, "backline-bench:guard").Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReplyGuardExpect is what a per-command reply limit costs: the
// caller's Expect and Release of an HGET, and the connection's tracking of
// the written command, without and with a limit registered (then it
// hashes what it writes and looks the hash up at the reply).
func BenchmarkReplyGuardExpect(b *testing.B) {
	args := []any{"hget", "backline-bench:ds:user0001@example.org", "imap"}
	cmd := []byte("*3\r\n$4\r\nhget\r\n$38\r\nbackline-bench:ds:user0001@example.org\r\n$4\r\nimap\r\n")
	reply := []byte("$23\r\nimap-backend-2.internal\r\n")
	buf := make([]byte, 4096)
	for _, limited := range []bool{false, true} {
		name := "unlimited"
		if limited {
			name = "limited"
		}
		b.Run(name, func(b *testing.B) {
			g := NewReplyGuard(64 << 20)
			c := g.Wrap(&writableRepeatConn{repeatConn{reply: reply}})
			b.ReportAllocs()
			for b.Loop() {
				var e Expectation
				if limited {
					e = g.Expect(args, 1<<20)
				}
				c.Write(cmd)
				c.Read(buf)
				e.Release()
			}
		})
	}
}

// writableRepeatConn is repeatConn that takes writes.
type writableRepeatConn struct{ repeatConn }

func (c *writableRepeatConn) Write(b []byte) (int, error) { return len(b), nil }
