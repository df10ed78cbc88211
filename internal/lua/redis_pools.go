package lua

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// redisHost is nauthilus_redis's process-wide state, kept in the Host so
// it outlives reloads as Nauthilus's registry outlives its scripts: the
// default client, the pools scripts registered and the uploaded scripts.
type redisHost struct {
	mu      sync.Mutex
	metrics *redisMetrics
	def     *redisConn
	allowed map[string]bool
	pools   map[string]*redisConn
	scripts map[string]redisScript
	// prefix is storage.redis.prefix: request.redis_prefix, which
	// nauthilus_util.get_redis_key puts before a script's keys.
	prefix string
}

// redisScript is one redis_upload_script under a name.
type redisScript struct{ sha, source string }

// Bounds on what scripts can make the daemon keep.
const (
	maxRedisPools        = 16
	maxRedisScripts      = 256
	maxRedisScriptSource = 1 << 20
	maxRedisPoolSize     = 1000
)

func redisState(h *Host) *redisHost {
	return hostValue(h, redisModule, func() *redisHost {
		return &redisHost{pools: map[string]*redisConn{}, scripts: map[string]redisScript{}}
	})
}

// SetRedis gives nauthilus_redis its "default" connection, storage.redis's
// client (the caller keeps owning and closes it). cfg's addresses (primary,
// replicas, Sentinels, cluster nodes) are the servers register_redis_pool
// may connect to, together with extra ones the operator allows. Call it
// before the first Engine is built.
func (h *Host) SetRedis(client redis.UniversalClient, cfg *config.Redis, extraAllowed []string) {
	s := redisState(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = newRedisMetrics(h.Registerer)
	s.def = &redisConn{name: "default", read: client, write: client, metrics: s.metrics, batch: newCmdBatcher(client, h.RedisReplyGuard())}
	guardClient(client, h.RedisReplyGuard())
	registerGuardMetric(h.Registerer, h.RedisReplyGuard())
	s.allowed = map[string]bool{}
	var addrs []string
	if cfg != nil {
		s.def.bound = commandBound(cfg.DialTimeout, cfg.PoolTimeout, cfg.WriteTimeout, cfg.ReadTimeout)
		s.prefix = cfg.Prefix
		addrs = append(addrs, cfg.Primary.Address)
		addrs = append(addrs, cfg.Replica.Addresses...)
		addrs = append(addrs, cfg.Sentinels.Addresses...)
		addrs = append(addrs, cfg.Cluster.Addresses...)
	}
	for _, a := range append(addrs, extraAllowed...) {
		if a != "" {
			s.allowed[a] = true
		}
	}
}

// HasRedis reports whether SetRedis gave nauthilus_redis a client.
func (h *Host) HasRedis() bool { return redisState(h).conn() != nil }

// CloseRedisPools closes the clients of the pools scripts registered (not
// the default one, which belongs to the caller of SetRedis). The daemon
// calls it when it stops.
func (h *Host) CloseRedisPools() {
	s := redisState(h)
	s.mu.Lock()
	pools := s.pools
	s.pools = map[string]*redisConn{}
	s.mu.Unlock()
	for _, c := range pools {
		c.write.Close()
		if c.read != c.write {
			c.read.Close()
		}
	}
}

func (s *redisHost) conn() *redisConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.def
}

// keyPrefix is request.redis_prefix: storage.redis.prefix ("" without
// storage.redis).
func (s *redisHost) keyPrefix() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefix
}

// redisPrefix is request.redis_prefix for this Engine's runs:
// lua.config.redis_prefix when the file sets it (even to ""), else
// storage.redis.prefix. It is read from the Engine's configuration, not
// the Host's, so a reload (a new Engine) applies a changed override.
func (e *Engine) redisPrefix() string {
	if p := e.cfg.Config.RedisPrefix; p != nil {
		return *p
	}
	return redisState(e.host).keyPrefix()
}

// hasPool reports whether a script registered a pool of this name.
func (s *redisHost) hasPool(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pools[name] != nil
}

func (s *redisHost) defaultConn() (*redisConn, error) {
	if c := s.conn(); c != nil {
		return c, nil
	}
	return nil, errRedisNotConfigured
}

// getRedisConnection is get_redis_connection(name) -> handle, nil or
// nil, "No known redis configuration ...". "default" is storage.redis's
// client (its primary).
func getRedisConnection(r *scriptRun, L *glua.LState) int {
	name := L.CheckString(1)
	s := redisState(r.engine.host)
	var c *redisConn
	if name == "default" {
		var err error
		if c, err = s.defaultConn(); err != nil {
			return pushRedis(r, L, nil, err)
		}
	} else {
		s.mu.Lock()
		c = s.pools[name]
		s.mu.Unlock()
	}
	if c == nil {
		return pushRedis(r, L, nil, fmt.Errorf("No known redis configuration for name '%s'", printableName(name)))
	}
	ud := L.NewUserData()
	ud.Value = c
	return pushRedis(r, L, ud, nil)
}

// registerRedisPool is register_redis_pool(name, mode, config) -> "OK".
// Unlike Nauthilus, a script may connect only to servers the operator
// allows (storage.redis's own, lua.config's extra list), at most
// maxRedisPools pools, and not read certificate files (the sandbox's file
// rules): the TLS client certificate options are refused.
func registerRedisPool(r *scriptRun, L *glua.LState) int {
	name, mode, cfg := L.CheckString(1), L.CheckString(2), L.CheckTable(3)
	s := redisState(r.engine.host)
	if s.conn() == nil {
		return pushRedis(r, L, nil, errRedisNotConfigured)
	}
	// Checked before the clients are made (min_idle_conns dials at once),
	// and again after, for a script registering the name meanwhile.
	if err := s.canRegister(name); err != nil {
		return pushRedis(r, L, nil, err)
	}
	conn, err := s.newPool(name, mode, cfg, r.engine.host.RedisReplyGuard())
	if err != nil {
		return pushRedis(r, L, nil, fmt.Errorf("register_redis_pool: %w", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.canRegisterLocked(name); err != nil {
		conn.write.Close()
		if conn.read != conn.write {
			conn.read.Close()
		}
		return pushRedis(r, L, nil, err)
	}
	s.pools[name] = conn
	return pushRedis(r, L, glua.LString("OK"), nil)
}

func (s *redisHost) canRegister(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canRegisterLocked(name)
}

func (s *redisHost) canRegisterLocked(name string) error {
	switch {
	case s.pools[name] != nil:
		return fmt.Errorf("register_redis_pool: redis pool '%s' already exists", printableName(name))
	case len(s.pools) >= maxRedisPools:
		return fmt.Errorf("register_redis_pool: at most %d pools may be registered", maxRedisPools)
	}
	return nil
}

// poolConfig is register_redis_pool's config table; keys of the wrong type
// count as absent (§4.1.1).
type poolConfig struct {
	address, masterName                    string
	addresses                              []string
	sentinelUser, sentinelPass, user, pass string
	db, poolSize, minIdle                  int
	tlsEnabled                             bool
	tlsCertFile, tlsKeyFile                string
}

func readPoolConfig(t *glua.LTable) poolConfig {
	str := func(k string) string { return optString(t, k) }
	num := func(k string) int {
		if n, ok := t.RawGetString(k).(glua.LNumber); ok {
			return int(n)
		}
		return 0
	}
	c := poolConfig{
		address: str("address"), masterName: str("master_name"),
		sentinelUser: str("sentinel_username"), sentinelPass: str("sentinel_password"),
		user: str("username"), pass: str("password"),
		db: num("db"), poolSize: num("pool_size"), minIdle: num("min_idle_conns"),
		tlsCertFile: str("tls_cert_file"), tlsKeyFile: str("tls_key_file"),
	}
	c.tlsEnabled = t.RawGetString("tls_enabled") == glua.LTrue
	if list, ok := t.RawGetString("addresses").(*glua.LTable); ok {
		for i := 1; i <= list.Len() && i <= config.MaxRedisAddresses; i++ {
			if a, ok := list.RawGetInt(i).(glua.LString); ok {
				c.addresses = append(c.addresses, string(a))
			}
		}
	}
	return c
}

// newPool checks a pool against the operator's rules and builds its
// clients (lazily connecting, as in Nauthilus). Errors never show a
// password.
func (s *redisHost) newPool(name, mode string, t *glua.LTable, guard *state.ReplyGuard) (*redisConn, error) {
	if name == "" || name == "default" {
		return nil, fmt.Errorf("the pool name must not be empty or 'default'")
	}
	c := readPoolConfig(t)
	var addrs []string
	switch mode {
	case "standalone":
		if c.address == "" {
			return nil, errors.New("mode standalone needs config.address")
		}
		addrs = []string{c.address}
	case "sentinel", "sentinel_replica":
		if len(c.addresses) == 0 || c.masterName == "" {
			return nil, fmt.Errorf("mode %s needs config.addresses and config.master_name", mode)
		}
		addrs = c.addresses
	case "cluster":
		if len(c.addresses) == 0 {
			return nil, errors.New("mode cluster needs config.addresses")
		}
		addrs = c.addresses
	default:
		return nil, fmt.Errorf("unknown redis mode '%s'", printableName(mode))
	}
	if err := s.checkAllowed(addrs); err != nil {
		return nil, err
	}
	if c.tlsCertFile != "" || c.tlsKeyFile != "" {
		return nil, errors.New("tls_cert_file and tls_key_file are not supported by backline (scripts do not read files outside the sandbox)")
	}
	if c.db < 0 || c.db > config.MaxRedisDatabaseNumber {
		return nil, fmt.Errorf("config.db must be 0..%d", config.MaxRedisDatabaseNumber)
	}
	poolSize, minIdle := min(max(c.poolSize, 0), maxRedisPoolSize), max(c.minIdle, 0)
	minIdle = min(minIdle, max(poolSize, 10))
	var tlsConf *tls.Config
	if c.tlsEnabled {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	const retries = 1
	timeouts := struct{ dial, read, write, pool time.Duration }{
		config.DefaultRedisDialTimeout, config.DefaultRedisReadTimeout, config.DefaultRedisWriteTimeout, config.DefaultRedisPoolTimeout}
	// Every connection through the reply guard (redis_replies.go).
	dialer := guard.Dialer(redis.NewDialer(&redis.Options{DialTimeout: timeouts.dial, TLSConfig: tlsConf}))
	failover := func(replicaOnly bool) redis.UniversalClient {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: c.masterName, SentinelAddrs: addrs, SentinelUsername: c.sentinelUser, SentinelPassword: c.sentinelPass,
			Username: c.user, Password: c.pass, DB: c.db, ReplicaOnly: replicaOnly,
			MaxRetries: retries, DialerRetries: retries, DialTimeout: timeouts.dial, ReadTimeout: timeouts.read,
			WriteTimeout: timeouts.write, PoolTimeout: timeouts.pool, PoolSize: poolSize, MinIdleConns: minIdle, TLSConfig: tlsConf, Dialer: dialer,
		})
	}
	conn := &redisConn{name: name, bound: commandBound(timeouts.dial, timeouts.pool, timeouts.write, timeouts.read), metrics: s.metricsOf()}
	switch mode {
	case "standalone":
		conn.write = redis.NewClient(&redis.Options{Addr: c.address, Username: c.user, Password: c.pass, DB: c.db,
			MaxRetries: retries, DialerRetries: retries, DialTimeout: timeouts.dial, ReadTimeout: timeouts.read,
			WriteTimeout: timeouts.write, PoolTimeout: timeouts.pool, PoolSize: poolSize, MinIdleConns: minIdle, TLSConfig: tlsConf, Dialer: dialer})
	case "sentinel":
		conn.write = failover(false)
	case "sentinel_replica":
		conn.write = failover(false)
		conn.read = failover(true)
	case "cluster":
		if c.db != 0 {
			return nil, errors.New("config.db must be 0 with cluster")
		}
		conn.write = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Username: c.user, Password: c.pass,
			MaxRetries: retries, DialerRetries: retries, DialTimeout: timeouts.dial, ReadTimeout: timeouts.read,
			WriteTimeout: timeouts.write, PoolTimeout: timeouts.pool, PoolSize: poolSize, MinIdleConns: minIdle, TLSConfig: tlsConf, Dialer: dialer})
	}
	if conn.read == nil {
		conn.read = conn.write
	}
	// The guard as a hook as well: it takes each command's reply limit
	// from the run's context (redis_replies.go).
	guardClient(conn.write, guard)
	if conn.read != conn.write {
		guardClient(conn.read, guard)
	}
	return conn, nil
}

// checkAllowed refuses any address the operator did not list.
func (s *redisHost) checkAllowed(addrs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refused []string
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("address '%s' is not host:port", printableName(a))
		}
		if !s.allowed[a] {
			refused = append(refused, printableName(a))
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return fmt.Errorf("address %s not allowed: scripts may connect only to storage.redis's servers and lua.config.redis_allowed_addresses",
			strings.Join(refused, ", "))
	}
	return nil
}

// commandBound is the longest one command can take by a client's own
// timeouts (storage.redis's clients retry once): each of up to six
// attempts (a retry, cluster redirects, a Sentinel lookup) may dial, wait
// for a connection, write and read, plus backoff between them. Zero
// timeouts are go-redis's defaults; a negative one (none) makes it 0,
// unknown, so every command runs on its own goroutine (redisCall).
func commandBound(dial, pool, write, read time.Duration) time.Duration {
	if dial < 0 || pool < 0 || write < 0 || read < 0 {
		return 0
	}
	if dial == 0 {
		dial = 5 * time.Second
	}
	if read == 0 {
		read = 3 * time.Second
	}
	if write == 0 {
		write = read
	}
	if pool == 0 {
		pool = read + time.Second
	}
	const attempts = 6
	return attempts*(dial+pool+write+read) + time.Second
}

func (s *redisHost) metricsOf() *redisMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metrics
}
