package auth

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
	"github.com/backline/backline/internal/testfixture"
)

// BenchmarkStickyNginxLogin is a whole nginx login (passwd-file, positive
// cache, selection over ten backends, answer) by 1000 users, 8 logins in
// flight per CPU: user_hash vs sticky on memory, miniredis and the
// fixture's redis-server (skipped without it).
//
//	go test -run '^$' -bench StickyNginxLogin ./internal/auth/
func BenchmarkStickyNginxLogin(b *testing.B) {
	b.Run("user_hash", func(b *testing.B) { benchStickyLogin(b, nil) })
	b.Run("sticky_memory", func(b *testing.B) { benchStickyLogin(b, state.NewMemoryAffinityStore(0, nil)) })
	b.Run("sticky_miniredis", func(b *testing.B) {
		m := miniredis.RunT(b)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		b.Cleanup(func() { c.Close() })
		benchStickyLogin(b, state.NewRedisAffinityStore(c, "bl:"))
	})
	b.Run("sticky_redis", func(b *testing.B) {
		fx := testfixture.Load(b)
		prefix := fmt.Sprintf("backline-bench:%d:", time.Now().UnixNano())
		c := redis.NewClient(&redis.Options{Addr: fx.Addr("REDIS")})
		b.Cleanup(func() {
			if keys, err := c.Keys(context.Background(), prefix+"*").Result(); err == nil && len(keys) > 0 {
				c.Del(context.Background(), keys...)
			}
			c.Close()
		})
		benchStickyLogin(b, state.NewRedisAffinityStore(c, prefix))
	})
}

func benchStickyLogin(b *testing.B, store state.AffinityStore) {
	const users = 1000
	lines := make([]string, users)
	for i := range lines {
		lines[i] = fmt.Sprintf("user%d:{PLAIN}%s", i, testPassword)
	}
	env := newEnv(b, func(c *config.Config, o *Options) {
		c.Auth.Passdb[0].Path = writePasswdB(b, lines...)
		if store != nil {
			c.Auth.Nginx.DefaultPolicy = config.PolicySticky
			o.Affinity = store
		}
	})
	var bs []health.Backend
	for i := range 10 {
		bs = append(bs, mailBackend(fmt.Sprintf("imap-%d", i), "imap", fmt.Sprintf("127.0.0.%d", i+1), 143, true))
	}
	env.health.set(bs...)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := nginxRequest(fmt.Sprintf("user%d", next.Add(1)%users), testPassword, "imap", "1")
			w := httptest.NewRecorder()
			env.mux.ServeHTTP(w, r)
			if w.Header().Get("Auth-Status") != "OK" {
				b.Error(w.Header())
				return
			}
		}
	})
}
