package state

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
)

// NewRedisClient builds the go-redis client storage.redis describes: a
// plain client for primary.address, a failover client for sentinels, a
// cluster client for cluster.addresses. It does not connect; the first
// command does (so a Redis that is down does not stop the daemon). r must
// come from config.Parse (defaults filled in, password files read).
// Errors name files, never a password.
func NewRedisClient(r *config.Redis) (redis.UniversalClient, error) {
	return NewGuardedRedisClient(r, nil)
}

// NewGuardedRedisClient is NewRedisClient with every connection (to the
// primary, replicas, Sentinels and cluster nodes) dialed through guard
// (nil: none), so no reply over its limit is ever materialized. The guard
// is part of the dialer from the start: no connection escapes it.
func NewGuardedRedisClient(r *config.Redis, guard *ReplyGuard) (redis.UniversalClient, error) {
	tlsConf, err := redisTLS(&r.TLS)
	if err != nil {
		return nil, err
	}
	var dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	if guard != nil {
		// go-redis's own dialer (TLS included), guarded.
		dialer = guard.Dialer(redis.NewDialer(&redis.Options{DialTimeout: r.DialTimeout, TLSConfig: tlsConf}))
	}
	// One retry: a login may wait on Redis, and a Redis that does not
	// answer must fail fast so the caller falls back to local state.
	const maxRetries, dialerRetries = 1, 1
	silenceClientLog.Do(func() { redis.SetLogger(quietLogger{}) })
	switch r.Mode() {
	case config.RedisStandalone:
		return redis.NewClient(&redis.Options{
			Addr: r.Primary.Address, Username: r.Primary.Username, Password: r.Primary.Password,
			DB: r.DatabaseNumber, MaxRetries: maxRetries, DialerRetries: dialerRetries,
			DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout,
			PoolSize: r.PoolSize, PoolTimeout: r.PoolTimeout, MinIdleConns: r.IdlePoolSize,
			TLSConfig: tlsConf, Dialer: dialer,
		}), nil
	case config.RedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: r.Sentinels.Master, SentinelAddrs: r.Sentinels.Addresses,
			SentinelUsername: r.Sentinels.Username, SentinelPassword: r.Sentinels.Password,
			Username: r.Primary.Username, Password: r.Primary.Password,
			DB: r.DatabaseNumber, MaxRetries: maxRetries, DialerRetries: dialerRetries,
			DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout,
			PoolSize: r.PoolSize, PoolTimeout: r.PoolTimeout, MinIdleConns: r.IdlePoolSize,
			TLSConfig: tlsConf, Dialer: dialer,
		}), nil
	case config.RedisClusterMode:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: r.Cluster.Addresses, Username: r.Cluster.Username, Password: r.Cluster.Password,
			MaxRetries: maxRetries, DialerRetries: dialerRetries,
			DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout,
			PoolSize: r.PoolSize, PoolTimeout: r.PoolTimeout, MinIdleConns: r.IdlePoolSize,
			TLSConfig: tlsConf, Dialer: dialer,
		}), nil
	}
	return nil, fmt.Errorf("storage.redis: no primary.address, sentinels or cluster.addresses")
}

// silenceClientLog keeps go-redis from printing to stderr: with Redis down
// it logs every failed dial, while backline logs the outage once (its
// callers report the errors commands return).
var silenceClientLog sync.Once

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// redisTLS turns storage.redis.tls into a client configuration; nil when
// TLS is off. An empty ServerName makes the dialer use each address's host.
func redisTLS(t *config.RedisTLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.SkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("storage.redis.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("storage.redis.tls.ca_file: %q holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("storage.redis.tls.cert: files %q and %q are not a certificate and its key", t.Cert, t.Key)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
