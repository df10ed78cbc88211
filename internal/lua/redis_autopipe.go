package lua

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/state"
)

// cmdBatcher sends the single commands of concurrent script runs on the
// default connection to Redis in pipelines. The write system call on the
// Redis socket was as much of a monitoring filter's CPU as the write of the
// HTTP answer (docs/benchmarks.md "Lua filter with nauthilus_redis"); one
// write and one read can serve the commands of many logins.
//
// The queue is the affinity store's (state.Flights): a command that finds
// no pipeline in flight starts one at once, so a lone login waits for
// nothing; otherwise it queues, and when the pipeline in flight has its
// replies the next one takes the whole queue (up to maxCmdBatch). One flight at a time batches
// best: with four (the affinity store's number) a monitoring filter cost
// 1.58-1.61x the plain selection, with one 1.40-1.43x (bench/authload
// -mode redis). The price is latency under concurrency: a queued command
// waits for at most one round trip before it is sent. Each command keeps its own
// reply and error (go-redis sets both per command, a connection failure on
// every command of the pipeline); the caller's context still bounds its
// wait (redisCall), and the client's timeouts bound each pipeline as they
// bound one command. Order between runs is not defined, as it is not
// between concurrent connections; one run's commands stay in order, since
// a run waits for each reply.
type cmdBatcher struct {
	client  redis.UniversalClient
	flights state.Flights[*cmdReq]
	// guard takes each command's own reply limit (redis_replies.go); the
	// pipeline's context is no run's, so limits cannot ride on it.
	guard *state.ReplyGuard
}

const (
	maxCmdFlights = 1
	maxCmdBatch   = 128
)

func newCmdBatcher(client redis.UniversalClient, guard *state.ReplyGuard) *cmdBatcher {
	b := &cmdBatcher{client: client, guard: guard}
	b.flights = state.Flights[*cmdReq]{Max: maxCmdFlights, MaxBatch: maxCmdBatch, Send: b.send}
	return b
}

type cmdReq struct {
	add  func(p redis.Pipeliner) redis.Cmder // queues the command on p
	done chan struct{}                       // closed when the command has its reply
	// limit is the largest reply the caller can take (0: the guard's).
	limit int64
}

// run adds the command to a pipeline and waits for its reply or ctx; a
// reply larger than limit (0: the guard's own) is refused unread.
func (b *cmdBatcher) run(ctx context.Context, limit int64, add func(p redis.Pipeliner) redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &cmdReq{add: add, done: make(chan struct{}), limit: limit}
	b.flights.Add(req)
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		b.flights.Remove(req)
		return ctx.Err()
	}
}

func (b *cmdBatcher) send(batch []*cmdReq) {
	// Bounded by the client's timeouts; callers wait on their own contexts.
	pipe := b.client.Pipeline()
	cmds := make([]redis.Cmder, len(batch))
	var exps []state.Expectation
	for i, r := range batch {
		cmds[i] = r.add(pipe)
		if r.limit > 0 && b.guard != nil {
			exps = append(exps, b.guard.Expect(cmds[i].Args(), r.limit))
		}
	}
	defer func() {
		for _, e := range exps {
			e.Release()
		}
	}()
	// A command's own failure (a nil reply, WRONGTYPE) is set on it and
	// Exec returns the first. A failure of the connection itself (a
	// refused AUTH, a dial error) can reach Exec alone: then it is every
	// command's.
	if _, err := pipe.Exec(context.Background()); err != nil && !carries(cmds, err) {
		for _, c := range cmds {
			if c.Err() == nil {
				c.SetErr(err)
			}
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// batchedCall runs op on conn: through the batcher when conn has one,
// else as one command (redisCall). The command is made on the batch's
// pipeline, with the run's context for its arguments only.
func batchedCall[T redis.Cmder](r *scriptRun, conn *redisConn, c redis.Cmdable, op func(ctx context.Context, c redis.Cmdable) T) (T, error) {
	if conn.batch == nil {
		return redisCall(r, conn, func(ctx context.Context) T { return op(ctx, c) })
	}
	var zero T
	ctx := r.ctx
	limit := r.replyLimit()
	if limit >= r.engine.maxMemory {
		limit = 0 // the guard's own limit is the whole budget
	}
	defer r.waiting()()
	var cmd T
	err := conn.batch.run(ctx, limit, func(p redis.Pipeliner) redis.Cmder { cmd = op(ctx, p); return cmd })
	if err != nil {
		conn.metrics.count(err)
		return zero, err
	}
	conn.metrics.count(cmd.Err())
	return cmd, refusedReply(cmd, cmd.Err(), r.engine.maxMemory)
}

// carries reports whether one of cmds failed with err itself.
func carries(cmds []redis.Cmder, err error) bool {
	for _, c := range cmds {
		if c.Err() == err {
			return true
		}
	}
	return false
}
