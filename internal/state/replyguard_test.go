package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testfixture"
)

// chunkConn is a connection whose reads return the given chunks in order,
// then io.EOF.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// guardRead sends stream through a guard with limit, in chunks of size
// step (0: whole), and returns what the client reads and the error.
func guardRead(stream string, limit int64, step int) (string, *guardedConn, error) {
	var chunks [][]byte
	b := []byte(stream)
	for step > 0 && len(b) > step {
		chunks = append(chunks, b[:step])
		b = b[step:]
	}
	chunks = append(chunks, b)
	g := NewReplyGuard(limit)
	c := g.Wrap(&chunkConn{chunks: chunks}).(*guardedConn)
	out, err := io.ReadAll(c)
	return string(out), c, err
}

var respSamples = []string{
	"+OK\r\n", "-ERR wrong\r\n", ":42\r\n", "$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
	"*2\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n", "%2\r\n$1\r\nk\r\n$1\r\nv\r\n+f\r\n_\r\n",
	"~2\r\n,1.5\r\n#t\r\n", "(123456789012345678901234567890\r\n", "=8\r\ntxt:abcd\r\n", "!3\r\nERR\r\n",
	"|1\r\n+key\r\n+val\r\n*1\r\n:7\r\n", ">2\r\n+message\r\n$2\r\nhi\r\n",
	"$6\r\na\r\nb\nc\r\n", // payload with CRLF inside
}

// TestReplyGuardPassesRepliesUnchanged: under the limit, every RESP2 and
// RESP3 type comes through byte for byte, however the reads split it.
func TestReplyGuardPassesRepliesUnchanged(t *testing.T) {
	all := strings.Join(respSamples, "")
	for _, step := range []int{0, 1, 2, 3, 7} {
		for _, limit := range []int64{0, 1 << 20} {
			got, _, err := guardRead(all, limit, step)
			if err != io.EOF && err != nil || got != all {
				t.Errorf("step %d limit %d: got %q, %v", step, limit, got, err)
			}
		}
	}
}

// TestReplyGuardPassesLargeRepliesInOrder: replies spanning many reads
// and pages come through whole and in order with the small ones around
// them.
func TestReplyGuardPassesLargeRepliesInOrder(t *testing.T) {
	big := "$100000\r\n" + strings.Repeat("b", 100000) + "\r\n"
	arr := "*3000\r\n" + strings.Repeat("$20\r\n01234567890123456789\r\n", 3000)
	all := "+a\r\n" + big + ":1\r\n" + arr + "+b\r\n" + big + arr
	for _, step := range []int{0, 999, 16 << 10, 40000} {
		got, c, err := guardRead(all, 1<<20, step)
		if err != nil || got != all {
			t.Errorf("step %d: %d bytes of %d, %v", step, len(got), len(all), err)
		}
		if len(c.spare) > guardSpare || len(c.held) != 0 {
			t.Errorf("step %d: %d spare, %d held pages", step, len(c.spare), len(c.held))
		}
	}
}

// TestReplyGuardRefusesLargeReplies: a reply over the limit becomes one
// error line, the replies around it are untouched, and a declared length
// over the limit is refused at its header without holding its bytes.
func TestReplyGuardRefusesLargeReplies(t *testing.T) {
	big := "$100\r\n" + strings.Repeat("x", 100) + "\r\n"
	manySmall := "*20\r\n" + strings.Repeat("$1\r\nx\r\n", 20)
	nested := "*2\r\n*2\r\n$30\r\n" + strings.Repeat("y", 30) + "\r\n$30\r\n" + strings.Repeat("y", 30) + "\r\n:1\r\n"
	for _, tc := range []struct{ name, reply string }{{"bulk", big}, {"array", manySmall}, {"nested", nested}} {
		for _, step := range []int{0, 1, 5} {
			got, c, _ := guardRead("+before\r\n"+tc.reply+":3\r\n", 90, step)
			rest, ok := strings.CutPrefix(got, "+before\r\n-"+ReplyTooLargePrefix+" ")
			if !ok || !strings.HasSuffix(rest, " 90\r\n:3\r\n") || strings.Count(got, "\r\n") != 3 {
				t.Errorf("%s step %d: got %q", tc.name, step, got)
			}
			if c.g.Refused() != 1 {
				t.Errorf("%s: refused %d", tc.name, c.g.Refused())
			}
		}
	}
	// A header declaring half a gigabyte: refused at once; nothing of the
	// payload is held while it streams past.
	g := NewReplyGuard(1 << 20)
	payload := bytes.Repeat([]byte("z"), 256<<10)
	chunks := [][]byte{[]byte("$536870912\r\n")}
	for range 8 {
		chunks = append(chunks, payload)
	}
	c := g.Wrap(&chunkConn{chunks: chunks}).(*guardedConn)
	if n, err := c.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v", n, err)
	}
	if !c.s.refused || c.s.declared < 536870912 || len(c.held) != 0 || len(c.out) != 0 {
		t.Errorf("refused %v declared %d, held %d pages", c.s.refused, c.s.declared, len(c.held))
	}
	// So is an array header of fifty million elements.
	got, _, _ := guardRead("*50000000\r\n", 1<<20, 0)
	if got != "" {
		t.Errorf("got %q", got)
	}
}

// TestReplyGuardProtocolErrors: a stream that is not RESP fails the read
// (the connection is then closed), it is never passed on half-followed.
func TestReplyGuardProtocolErrors(t *testing.T) {
	for _, s := range []string{"?x\r\n", "$abc\r\n", "$-5\r\n", "=-1\r\n", "*" + strings.Repeat("9", 30) + "\r\n", "$5\n", "%-1\r\n"} {
		got, _, err := guardRead(s, 0, 0)
		if err == nil || err == io.EOF || !errors.Is(err, errRESPProtocol) || got != "" {
			t.Errorf("%q: got %q, %v", s, got, err)
		}
	}
}

// TestReplyGuardWithGoRedis: a client on one guarded connection gets an
// error reply naming the limit for a large GET, HGETALL, LRANGE and EVAL,
// and the same connection then serves the next command.
func TestReplyGuardWithGoRedis(t *testing.T) {
	srv := miniredis.RunT(t)
	g := NewReplyGuard(64 << 10)
	opt := &redis.Options{Addr: srv.Addr(), PoolSize: 1}
	opt.Dialer = g.Dialer(redis.NewDialer(opt))
	c := redis.NewClient(opt)
	defer c.Close()
	breaker := NewRedisBreaker(nil, RedisBreakerSettings{}, nil, nil)
	c.AddHook(breaker)
	ctx := context.Background()
	srv.Set("big", strings.Repeat("v", 200<<10))
	for i := range 3000 {
		srv.HSet("hash", "field"+strings.Repeat("f", 10)+strconv.Itoa(i), "value")
		srv.Lpush("list", "element-"+strconv.Itoa(i))
	}
	srv.Set("small", "ok")
	calls := []func() error{
		func() error { return c.Get(ctx, "big").Err() },
		func() error { return c.HGetAll(ctx, "hash").Err() },
		func() error { return c.LRange(ctx, "list", 0, -1).Err() },
	}
	for i, call := range calls {
		err := call()
		size, limit, ok := IsReplyTooLarge(err)
		if !ok || limit != 64<<10 || size <= limit {
			t.Errorf("call %d: %v", i, err)
		}
		if v, err := c.Get(ctx, "small").Result(); v != "ok" || err != nil {
			t.Errorf("after call %d: %q, %v", i, v, err)
		}
	}
	// In a pipeline only the large reply's command fails.
	pipe := c.Pipeline()
	first, big, last := pipe.Get(ctx, "small"), pipe.Get(ctx, "big"), pipe.Get(ctx, "small")
	pipe.Exec(ctx)
	if _, _, ok := IsReplyTooLarge(big.Err()); !ok || first.Val() != "ok" || last.Val() != "ok" {
		t.Errorf("pipeline: %v / %v / %v", first.Err(), big.Err(), last.Err())
	}
	if st := c.PoolStats(); st.TotalConns != 1 || st.Misses != 1 {
		t.Errorf("pool stats %+v: the connection was replaced", st)
	}
	if !breaker.Up() {
		t.Error("a refused reply opened the circuit breaker")
	}
	if g.Refused() != 4 {
		t.Errorf("refused %d", g.Refused())
	}
}

// FuzzReplyGuard: any byte stream, any chunking and limit: no panic; with
// no limit the client reads exactly the complete replies the stream holds
// (or fails on a stream that is not RESP); with one, it reads no more
// bytes than that.
func FuzzReplyGuard(f *testing.F) {
	for _, s := range respSamples {
		f.Add([]byte(s), uint8(1), uint16(0))
		f.Add([]byte(s), uint8(3), uint16(20))
	}
	f.Add([]byte("*2\r\n$100\r\n"), uint8(2), uint16(10))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8, limit uint16) {
		free, _, ferr := guardRead(string(stream), 0, int(step))
		if !strings.HasPrefix(string(stream), free) {
			t.Fatalf("no limit: read %q from %q", free, stream)
		}
		got, _, err := guardRead(string(stream), int64(limit), int(step))
		if (ferr == io.EOF) != (err == io.EOF) {
			t.Fatalf("errors differ: %v vs %v", ferr, err)
		}
		if limit == 0 && got != free {
			t.Fatalf("limit 0 changed the stream")
		}
	})
}

// TestGuardedClientOnEveryTopology: NewGuardedRedisClient guards the
// connections of a standalone, a Sentinel and a Cluster client (the
// cluster's node clients included), as the daemon builds them; each
// refuses a large GET and serves the next command.
func TestGuardedClientOnEveryTopology(t *testing.T) {
	fx := testfixture.Load(t)
	topologies := map[string]string{
		"standalone": "    primary:\n      address: " + fx.Addr("REDIS") + "\n",
		"sentinel": fmt.Sprintf("    sentinels:\n      master: %s\n      addresses: [%s]\n",
			fx.Get("REDIS_SENTINEL_MASTER"), fx.Addr("REDIS_SENTINEL")),
		"cluster": "    cluster:\n      addresses: [" + strings.ReplaceAll(fx.Get("REDIS_CLUSTER_ADDRESSES"), ",", ", ") + "]\n",
	}
	for name, yaml := range topologies {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("storage:\n  redis:\n" + yaml + "    read_timeout: 10s\n"))
			if err != nil {
				t.Fatal(err)
			}
			g := NewReplyGuard(64 << 10)
			c, err := NewGuardedRedisClient(cfg.Storage.Redis, g)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			key := "backline-test:guard:" + name
			defer c.Del(ctx, key, key+":small")
			eventually(t, "set", func() error {
				return c.Set(ctx, key, strings.Repeat("g", 256<<10), time.Minute).Err()
			})
			if err := c.Set(ctx, key+":small", "ok", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if _, limit, ok := IsReplyTooLarge(c.Get(ctx, key).Err()); !ok || limit != 64<<10 {
				t.Errorf("large GET was not refused")
			}
			if v, err := c.Get(ctx, key+":small").Result(); v != "ok" || err != nil {
				t.Errorf("next GET: %q, %v", v, err)
			}
			if g.Refused() != 1 {
				t.Errorf("refused %d", g.Refused())
			}
		})
	}
}

func (c *chunkConn) Write(b []byte) (int, error) { return len(b), nil }

// TestReplyGuardLeavesBookkeepingRepliesAlone: the reply to COMMAND (and
// CLUSTER, SENTINEL, INFO, HELLO) is not limited, matched to its command
// however the writes are split; a push between them answers no command;
// the GET after it is limited.
func TestReplyGuardLeavesBookkeepingRepliesAlone(t *testing.T) {
	cmds := "*1\r\n$7\r\ncommand\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	bigArray := "*50\r\n" + strings.Repeat("$10\r\n0123456789\r\n", 50)
	bigBulk := "$500\r\n" + strings.Repeat("b", 500) + "\r\n"
	push := ">2\r\n$7\r\nmessage\r\n$3\r\nhi!\r\n"
	replies := bigArray + push + bigBulk + bigArray + "$2\r\nok\r\n"
	for _, step := range []int{0, 1, 5} {
		g := NewReplyGuard(256)
		c := g.Wrap(&chunkConn{chunks: [][]byte{[]byte(replies)}}).(*guardedConn)
		for b := []byte(cmds); len(b) > 0; {
			n := len(b)
			if step > 0 {
				n = min(step, n)
			}
			c.Write(b[:n])
			b = b[n:]
		}
		out, _ := io.ReadAll(c)
		want := bigArray + push + string(tooLargeReply(0, 256)) + bigArray + "$2\r\nok\r\n"
		got := string(out)
		// The refusal's size depends on where the header stopped it.
		if i := strings.Index(got, "-"+ReplyTooLargePrefix); i >= 0 {
			j := i + strings.Index(got[i:], "\r\n") + 2
			got = got[:i] + string(tooLargeReply(0, 256)) + got[j:]
		}
		if got != want {
			t.Errorf("step %d: got %q", step, out)
		}
	}
	// Writes that are not commands: nothing is exempt any more.
	g := NewReplyGuard(256)
	c := g.Wrap(&chunkConn{chunks: [][]byte{[]byte(bigArray)}}).(*guardedConn)
	c.Write([]byte("*1\r\n$7\r\nCOMMAND\r\nGARBAGE\r\n"))
	if out, _ := io.ReadAll(c); !strings.HasPrefix(string(out), "-"+ReplyTooLargePrefix) {
		t.Errorf("after unparseable writes: %q", out)
	}
}

// FuzzCmdTracker: any written bytes: no panic, a bounded queue, and
// replies taken never exceed commands written.
func FuzzCmdTracker(f *testing.F) {
	f.Add([]byte("*1\r\n$7\r\nCOMMAND\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), uint8(3))
	f.Add([]byte("*2\r\n$99999999999\r\n"), uint8(1))
	f.Add([]byte("*1\r\n$8\r\ncluſter\r\n*1\r\n$4\r\ninfo\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, w []byte, step uint8) {
		var tr cmdTracker
		// A limit registered: the tracker hashes what it follows.
		tr.exp = &expectations{seed: maphash.MakeSeed()}
		tr.exp.pending.Store(1)
		for b := w; len(b) > 0; {
			n := min(max(int(step), 1), len(b))
			tr.written(b[:n])
			b = b[n:]
		}
		if len(tr.queue)-tr.head > maxTrackedCommands || len(tr.name) > 17 {
			t.Fatalf("queue %d name %q", len(tr.queue)-tr.head, tr.name)
		}
		exempt := 0
		for range len(w) {
			if tr.replied().exempt {
				exempt++
			}
		}
		// Only ASCII letters fold, as in Redis: the names counted are
		// those of the input upper-cased in ASCII.
		upper := strings.Map(func(r rune) rune {
			if 'a' <= r && r <= 'z' {
				return r - ('a' - 'A')
			}
			return r
		}, string(w))
		if exempt > strings.Count(upper, "COMMAND")+strings.Count(upper, "CLUSTER")+
			strings.Count(upper, "SENTINEL")+strings.Count(upper, "INFO")+strings.Count(upper, "HELLO") {
			t.Fatalf("%d exempt replies from %q", exempt, w)
		}
	})
}

// repeatConn answers every read with the same reply.
type repeatConn struct {
	net.Conn
	reply []byte
}

func (c *repeatConn) Read(p []byte) (int, error) { return copy(p, c.reply), nil }

// TestReplyGuardSmallRepliesAllocateNothing: after the first read, a
// small reply costs the guard no allocation.
func TestReplyGuardSmallRepliesAllocateNothing(t *testing.T) {
	g := NewReplyGuard(64 << 20)
	c := g.Wrap(&repeatConn{reply: []byte("$23\r\nimap-backend-2.internal\r\n")})
	buf := make([]byte, 4096)
	c.Read(buf)
	if n := testing.AllocsPerRun(100, func() { c.Read(buf) }); n != 0 {
		t.Errorf("%v allocations per reply", n)
	}
}
