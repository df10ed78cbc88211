package main

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
)

// generation is everything one configuration file became that a reload
// replaces as a whole: the config, the API routes (auth endpoints, API
// credentials), the Lua engine and the gateway's routes and backends.
// Requests hold a reference while they run; a replaced generation is
// closed when its last request ends, so in-flight requests finish on the
// routes, Lua states and upstream connections they started with.
type generation struct {
	id     uint64
	cfg    *config.Config
	routes http.Handler
	gw     *gateway.Gateway // nil without gateway.address
	lua    *lua.Engine
	groups []health.Group

	refs    atomic.Int64
	retired atomic.Bool
	once    sync.Once
	closer  func(*generation)
	// releaseFunc is release as a value made once, so handing it to each
	// request allocates nothing.
	releaseFunc func()
}

// release ends one request's hold; the last one out of a retired
// generation closes it.
func (g *generation) release() {
	if g.refs.Add(-1) == 0 && g.retired.Load() {
		g.close()
	}
}

// retire marks g replaced (or the daemon stopping); it closes at once when
// no request holds it. Both sides check the other's flag after setting
// their own, so one of them always sees the generation unused.
func (g *generation) retire() {
	g.retired.Store(true)
	if g.refs.Load() == 0 {
		g.close()
	}
}

func (g *generation) close() { g.once.Do(func() { g.closer(g) }) }
