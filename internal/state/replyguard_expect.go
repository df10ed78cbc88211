package state

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Per-command limits. The guard's limit is one number for every reply on
// every connection, but a caller may know that one command's reply must
// be smaller: a Lua script that holds most of its memory budget can take
// only a reply that fits what is left, and a reply up to the whole budget
// read for it would be up to that much again on the heap before the
// charge afterwards refused it.
//
// go-redis offers no way to tell a connection which command it is about
// to carry (the pool picks the connection inside the client, and the
// automatic pipeline mixes the commands of many callers in one write), so
// the guard matches commands by content: the caller registers a limit for
// a command's arguments (Expect, or a context from WithReplyLimit for
// commands sent through a client the guard hooks), the connection hashes
// each command as it is written, and the reply to a command whose hash is
// registered gets the smaller of the two limits. What cannot be matched
// (arguments of a type the encoder below does not know, a stream the
// tracker cannot follow) gets the guard's limit, as before, so a miss
// only loses the tighter bound.
//
// Identical commands in flight at once (the same GET of the same key from
// two runs) cannot be told apart on the wire; each gets the largest limit
// registered for that content, so no reply is refused for a caller that
// could hold it. A command sent by someone who registered nothing (the
// daemon's own state on the shared client) that is identical to a
// registered one in flight gets that limit too; the callers' floor
// (never below 64 KiB for Lua runs) keeps this from touching the short
// replies the daemon's state reads.

// replyLimitKey carries a per-command limit in a context.
type replyLimitKey struct{}

// WithReplyLimit returns ctx asking the guard, when it is a hook of the
// client (client.AddHook), to limit the replies to commands sent with the
// returned context to limit bytes (as counted by the guard).
func WithReplyLimit(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, replyLimitKey{}, limit)
}

func replyLimitOf(ctx context.Context) (int64, bool) {
	limit, ok := ctx.Value(replyLimitKey{}).(int64)
	return limit, ok
}

// Expectation is a registered per-command limit; Release it once the
// command has its reply (or failed).
type Expectation struct {
	g     *ReplyGuard
	hash  uint64
	limit int64
}

// Expect limits the reply to the command with args (cmd.Args()) to limit
// bytes until the Expectation is released. It registers nothing (and its
// Release does nothing) when limit is not below the guard's own limit or
// an argument has a type the guard cannot encode as go-redis does.
func (g *ReplyGuard) Expect(args []any, limit int64) Expectation {
	if limit <= 0 || (g.Limit() > 0 && limit >= g.Limit()) {
		return Expectation{}
	}
	h, ok := commandHash(&g.exp.seed, args)
	if !ok {
		return Expectation{}
	}
	g.exp.add(h, limit)
	return Expectation{g: g, hash: h, limit: limit}
}

// Release ends the expectation.
func (e Expectation) Release() {
	if e.g != nil {
		e.g.exp.remove(e.hash, e.limit)
	}
}

// expectations are the registered limits by command hash. Several callers
// may register the same content; per hash, each distinct limit is kept
// with its count (few: one per concurrent caller at most).
type expectations struct {
	seed maphash.Seed
	// pending counts registrations; connections hash what they write only
	// while it is not 0, so a guard nobody registers with costs one load.
	pending atomic.Int64
	mu      sync.Mutex
	byHash  map[uint64][]limitCount
}

type limitCount struct{ limit, n int64 }

func (x *expectations) add(h uint64, limit int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byHash == nil {
		x.byHash = map[uint64][]limitCount{}
	}
	x.pending.Add(1)
	list := x.byHash[h]
	for i := range list {
		if list[i].limit == limit {
			list[i].n++
			return
		}
	}
	x.byHash[h] = append(list, limitCount{limit, 1})
}

func (x *expectations) remove(h uint64, limit int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	list := x.byHash[h]
	for i := range list {
		if list[i].limit != limit {
			continue
		}
		x.pending.Add(-1)
		if list[i].n--; list[i].n == 0 {
			list[i] = list[len(list)-1]
			list = list[:len(list)-1]
		}
		if len(list) == 0 {
			delete(x.byHash, h)
		} else {
			x.byHash[h] = list
		}
		return
	}
}

// limit is the largest limit registered for h.
func (x *expectations) limit(h uint64) (int64, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var best int64
	for _, lc := range x.byHash[h] {
		best = max(best, lc.limit)
	}
	return best, best > 0
}

// commandHash hashes args as the connection will see them written: the
// argument count, then each argument's length and bytes, each encoded as
// go-redis's proto.Writer encodes it. ok is false for a type it does not
// cover (pointers, BinaryMarshaler, time.Time ...).
func commandHash(seed *maphash.Seed, args []any) (h uint64, ok bool) {
	var mh maphash.Hash
	mh.SetSeed(*seed)
	writeHashLen(&mh, int64(len(args)))
	var num [32]byte
	for _, a := range args {
		var b []byte
		switch v := a.(type) {
		case string:
			writeHashLen(&mh, int64(len(v)))
			mh.WriteString(v)
			continue
		case []byte:
			b = v
		case nil:
			b = nil
		case int:
			b = strconv.AppendInt(num[:0], int64(v), 10)
		case int8:
			b = strconv.AppendInt(num[:0], int64(v), 10)
		case int16:
			b = strconv.AppendInt(num[:0], int64(v), 10)
		case int32:
			b = strconv.AppendInt(num[:0], int64(v), 10)
		case int64:
			b = strconv.AppendInt(num[:0], v, 10)
		case uint:
			b = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint8:
			b = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint16:
			b = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint32:
			b = strconv.AppendUint(num[:0], uint64(v), 10)
		case uint64:
			b = strconv.AppendUint(num[:0], v, 10)
		case float32:
			b = strconv.AppendFloat(num[:0], float64(v), 'f', -1, 64)
		case float64:
			b = strconv.AppendFloat(num[:0], v, 'f', -1, 64)
		case bool:
			b = num[:1]
			b[0] = '0'
			if v {
				b[0] = '1'
			}
		case time.Duration:
			b = strconv.AppendInt(num[:0], v.Nanoseconds(), 10)
		default:
			return 0, false
		}
		writeHashLen(&mh, int64(len(b)))
		mh.Write(b)
	}
	return mh.Sum64(), true
}

func writeHashLen(mh *maphash.Hash, n int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	mh.Write(b[:])
}

// ProcessHook registers the limit a command's context carries
// (WithReplyLimit) for the time the command runs.
func (g *ReplyGuard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		limit, ok := replyLimitOf(ctx)
		if !ok {
			return next(ctx, cmd)
		}
		e := g.Expect(cmd.Args(), limit)
		defer e.Release()
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook is ProcessHook for every command of a pipeline.
func (g *ReplyGuard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		limit, ok := replyLimitOf(ctx)
		if !ok {
			return next(ctx, cmds)
		}
		exps := make([]Expectation, len(cmds))
		for i, cmd := range cmds {
			exps[i] = g.Expect(cmd.Args(), limit)
		}
		defer func() {
			for _, e := range exps {
				e.Release()
			}
		}()
		return next(ctx, cmds)
	}
}
