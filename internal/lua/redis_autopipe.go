package lua

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// cmdBatcher sends the single commands of concurrent script runs on the
// default connection to Redis in pipelines. The write system call on the
// Redis socket was as much of a monitoring filter's CPU as the write of the
// HTTP answer (docs/benchmarks.md "Lua filter with nauthilus_redis"); one
// write and one read can serve the commands of many logins.
//
// The scheme is the affinity store's (internal/state/redisbatch.go): no
// timer and no goroutine while idle. A command that finds no pipeline in
// flight starts one at once, so a lone login waits for nothing; otherwise
// it queues, and when the pipeline in flight has its replies the next one
// takes the whole queue (up to maxCmdBatch). One flight at a time batches
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
	client redis.UniversalClient

	mu       sync.Mutex
	queue    []*cmdReq
	inflight int
}

const (
	maxCmdFlights = 1
	maxCmdBatch   = 128
)

type cmdReq struct {
	add  func(p redis.Pipeliner) redis.Cmder // queues the command on p
	done chan struct{}                       // closed when the command has its reply
}

// run adds the command to a pipeline and waits for its reply or ctx.
func (b *cmdBatcher) run(ctx context.Context, add func(p redis.Pipeliner) redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &cmdReq{add: add, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, req)
	start := b.inflight < maxCmdFlights
	if start {
		b.inflight++
	}
	b.mu.Unlock()
	if start {
		go b.fly()
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		for i, q := range b.queue {
			if q == req {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// fly sends batches until the queue is empty, then ends.
func (b *cmdBatcher) fly() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxCmdBatch)
		if n == 0 {
			b.inflight--
			b.mu.Unlock()
			return
		}
		batch := make([]*cmdReq, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		b.send(batch)
	}
}

func (b *cmdBatcher) send(batch []*cmdReq) {
	// Bounded by the client's timeouts; callers wait on their own contexts.
	pipe := b.client.Pipeline()
	cmds := make([]redis.Cmder, len(batch))
	for i, r := range batch {
		cmds[i] = r.add(pipe)
	}
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
	defer r.waiting()()
	var cmd T
	err := conn.batch.run(ctx, func(p redis.Pipeliner) redis.Cmder { cmd = op(ctx, p); return cmd })
	if err != nil {
		conn.metrics.count(err)
		return zero, err
	}
	conn.metrics.count(cmd.Err())
	return cmd, cmd.Err()
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
