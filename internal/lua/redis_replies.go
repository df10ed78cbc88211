package lua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// Replies are bounded before they are read. go-redis reads a reply whole
// before returning it, so charging it to the run afterwards (chargeReply)
// came too late for a huge one: the daemon had allocated it all. Every
// connection nauthilus_redis uses is therefore dialed through the Host's
// state.ReplyGuard, whose limit is lua.config.max_memory: a reply larger
// than a whole run's budget can never become Lua values, so the guard
// drops it as it streams in (its header, when it declares the size) and
// the command gets an error reply instead; the connection stays usable.
//
// Each command also asks for the run's remaining budget as its own limit
// (replyLimit): with the whole budget as the only limit, a run holding
// most of its budget could have a reply of up to the whole budget read
// for it, nearly twice the budget on the heap before the charge refused
// it. The remaining budget is the one charge uses, max_memory less what
// the run was last measured to hold and what was charged since; it costs
// an atomic load. It is never below replyFloor, so short replies pass
// whatever the measurement's lag. A reply within the limit is read and
// then charged to the run's remaining budget before any Lua value is made
// of it, as before. Either way the script gets a memory budget error
// naming the command.

// RedisReplyGuard is the guard for the connections of nauthilus_redis:
// build storage.redis's client with it (state.NewGuardedRedisClient)
// before passing that client to SetRedis. Engines set its limit to their
// lua.config.max_memory (ApplyHostSettings).
func (h *Host) RedisReplyGuard() *state.ReplyGuard {
	return hostValue(h, "nauthilus_redis.reply_guard", func() *state.ReplyGuard {
		return state.NewReplyGuard(int64(config.DefaultLuaMaxMemory))
	})
}

// guardClient makes sure connections client dials from now on are guarded
// (the daemon's client is built guarded already; the guard then leaves
// its connections as they are). For a client built elsewhere (tests, an
// embedding program) connections dialed before this call are not.
func guardClient(client redis.UniversalClient, g *state.ReplyGuard) {
	switch c := client.(type) {
	case *redis.Client:
		c.AddHook(g)
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(g) })
	}
}

// replyFloor is the smallest per-command reply limit: a reply this small
// is always read (then charged as any reply). The measurement a run's
// remaining budget rests on lags what the VM builds, so a limit of a few
// bytes would refuse replies on a guess; 64 KiB is 1/16 of the smallest
// max_memory.
const replyFloor = 64 << 10

// replyLimit is the largest reply the run can take now: its remaining
// budget, at least replyFloor. On the run's goroutine only (retained).
func (r *scriptRun) replyLimit() int64 {
	return max(r.engine.maxMemory-r.measured.Load()-r.retained, replyFloor)
}

// replyCtx is the run's context, carrying replyLimit for the guard's
// hook when it is below the guard's own limit (the whole budget).
func (r *scriptRun) replyCtx() context.Context {
	if limit := r.replyLimit(); limit < r.engine.maxMemory {
		return state.WithReplyLimit(r.ctx, limit)
	}
	return r.ctx
}

// replyRefused is the error of a command whose reply the guard refused.
type replyRefused struct {
	command     string
	size, limit int64
	// budget is max_memory; limit is below it when it was the run's
	// remaining budget.
	budget int64
}

func (e *replyRefused) Error() string {
	if e.limit < e.budget {
		return fmt.Sprintf("%v: the reply to %s is larger than the %d bytes the run had left of the %s it may hold "+
			"(at least %d bytes, counting %d per element; lua.config.max_memory); it was not read",
			errMemoryBudget, e.command, e.limit, config.ByteSize(e.budget), e.size, state.ReplyElementCost)
	}
	return fmt.Sprintf("%v: the reply to %s is larger than %s (at least %d bytes, counting %d per element), "+
		"more than a run may hold (lua.config.max_memory); it was not read",
		errMemoryBudget, e.command, config.ByteSize(e.limit), e.size, state.ReplyElementCost)
}

func (e *replyRefused) Unwrap() error { return errMemoryBudget }

// refusedReply turns a guard's refusal on cmd into replyRefused naming
// the command; other errors pass unchanged. budget is the run's max_memory.
func refusedReply(cmd redis.Cmder, err error, budget int64) error {
	size, limit, ok := state.IsReplyTooLarge(err)
	if !ok {
		return err
	}
	name := "a command"
	if cmd != nil {
		name = strings.ToUpper(cmd.Name())
	}
	return &replyRefused{command: printableName(name), size: size, limit: limit, budget: budget}
}

// raiseIfRefused stops the run with a memory budget error when err is a
// refused reply: like a charge over budget, it is not a Redis failure a
// script could handle, and pcall does not catch it.
func raiseIfRefused(r *scriptRun, L *glua.LState, err error) {
	var rr *replyRefused
	if errors.As(err, &rr) {
		r.stop(rr)
		L.RaiseError("nauthilus_redis: %s", rr.Error())
	}
}

// registerGuardMetric exports the guard's refusals:
// backline_lua_redis_replies_refused_total.
func registerGuardMetric(reg prometheus.Registerer, g *state.ReplyGuard) {
	if reg == nil {
		return
	}
	// Registered once per process; a second SetRedis finds it.
	_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "backline_lua_redis_replies_refused_total",
		Help: "Redis replies larger than what the run had left of lua.config.max_memory, dropped unread (nauthilus_redis); the script's run was stopped for its memory budget.",
	}, func() float64 { return float64(g.Refused()) }))
}
