package state

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// getBatcher sends concurrent affinity reads (GETEX / GET, and the
// get-or-set script of a login) to Redis in
// pipelines: the write system call on the socket was most of what a
// sticky login on Redis cost backline (docs/benchmarks.md "Affinity on
// Redis"), and one write and one read can serve many logins.
//
// The reads queue in Flights (a lone login waits for nothing). Each login
// still makes exactly one command; the caller's context still bounds its
// wait (a cancelled read leaves the queue, or has its reply dropped), and
// the client's read and write timeouts bound each pipeline as they bound
// a single command. An error reaches every read of the batch it hit.
type getBatcher struct {
	client  redis.UniversalClient
	flights Flights[*getReq]
}

func newGetBatcher(client redis.UniversalClient) *getBatcher {
	b := &getBatcher{client: client}
	b.flights = Flights[*getReq]{Max: maxFlights, MaxBatch: maxBatch, Send: b.send}
	return b
}

// maxFlights is how many pipelines may wait on Redis at once; maxBatch is
// how many reads one pipeline carries.
const (
	maxFlights = 4
	maxBatch   = 128
)

type getReq struct {
	key     string
	refresh time.Duration // > 0: GETEX with PX (or the script's TTL); 0: GET
	cand    string        // not empty: getOrSetScript storing cand when key is missing
	keep    []string      // getOrSetScript: stored values returned without refresh
	done    chan getReply // buffered: the sender never blocks
}

type getReply struct {
	val string
	err error
}

// get reads key (refreshing it to refresh when > 0) through a pipeline;
// the result is what the single command would have returned.
func (b *getBatcher) get(ctx context.Context, key string, refresh time.Duration) (string, error) {
	return b.do(ctx, &getReq{key: key, refresh: refresh})
}

// getOrSet runs getOrSetScript on key through a pipeline: the live value
// (refreshed to ttl unless it is one of keep), or redis.Nil when cand was
// stored.
func (b *getBatcher) getOrSet(ctx context.Context, key, cand string, ttl time.Duration, keep []string) (string, error) {
	return b.do(ctx, &getReq{key: key, refresh: ttl, cand: cand, keep: keep})
}

func (b *getBatcher) do(ctx context.Context, r *getReq) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	r.done = make(chan getReply, 1)
	b.flights.Add(r)
	select {
	case rep := <-r.done:
		return rep.val, rep.err
	case <-ctx.Done():
		b.flights.Remove(r)
		return "", ctx.Err()
	}
}

// send runs one batch: a plain command for one read, a pipeline for more.
func (b *getBatcher) send(batch []*getReq) {
	ctx := context.Background() // bounded by the client's timeouts; callers wait on their own contexts
	if len(batch) == 1 {
		r := batch[0]
		if r.cand != "" {
			// Run: EVALSHA, and EVAL when Redis has not the script.
			v, err := getOrSetScript.Run(ctx, b.client, []string{r.key}, getOrSetArgs(r)...).Text()
			r.done <- getReply{v, err}
			return
		}
		v, err := b.command(ctx, b.client, r).Result()
		r.done <- getReply{v, err}
		return
	}
	cmds := make([]func() (string, error), len(batch))
	pipe := b.client.Pipeline()
	for i, r := range batch {
		if r.cand != "" {
			cmds[i] = getOrSetScript.EvalSha(ctx, pipe, []string{r.key}, getOrSetArgs(r)...).Text
		} else {
			cmds[i] = b.command(ctx, pipe, r).Result
		}
	}
	_, _ = pipe.Exec(ctx) // each command holds its own error
	for i, r := range batch {
		v, err := cmds[i]()
		if r.cand != "" && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis lost the script (restart, SCRIPT FLUSH): this one
			// loads it again with EVAL; later pipelines find it.
			v, err = getOrSetScript.Run(ctx, b.client, []string{r.key}, getOrSetArgs(r)...).Text()
		}
		r.done <- getReply{v, err}
	}
}

func (*getBatcher) command(ctx context.Context, c redis.Cmdable, r *getReq) *redis.StringCmd {
	if r.refresh > 0 {
		return c.GetEx(ctx, r.key, r.refresh)
	}
	return c.Get(ctx, r.key)
}

// getOrSetScript is a login's one command: a live value of ours (1 to
// ARGV[3] bytes) gets its TTL refreshed to ARGV[2] ms, unless it equals
// one of ARGV[4..] (drained backends: their users leave when it expires),
// and is returned; otherwise (missing, or a value another program wrote)
// ARGV[1] is stored with that TTL and the reply is nil. One key, so
// Cluster routes it.
var getOrSetScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and #v > 0 and #v <= tonumber(ARGV[3]) then
  for i = 4, #ARGV do
    if ARGV[i] == v then return v end
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`)

func getOrSetArgs(r *getReq) []any {
	args := make([]any, 3, 3+len(r.keep))
	args[0], args[1], args[2] = r.cand, r.refresh.Milliseconds(), MaxIDLen
	for _, id := range r.keep {
		args = append(args, id)
	}
	return args
}
