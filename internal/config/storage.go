package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Storage is where state shared between backline instances lives. Without
// storage.redis each instance keeps it in memory (one instance's view).
type Storage struct {
	Redis *Redis `yaml:"redis"`
}

// Redis is storage.redis. Key names follow Nauthilus's storage.redis so an
// operator can copy the block: exactly one topology is configured, a
// primary (standalone, with optional replicas), Sentinels, or a Cluster.
// After Parse, the passwords hold the content of their files and the
// durations, prefix and pool sizes their effective values.
type Redis struct {
	Primary        RedisNode      `yaml:"primary"`
	Replica        RedisReplica   `yaml:"replica"`
	Sentinels      RedisSentinels `yaml:"sentinels"`
	Cluster        RedisCluster   `yaml:"cluster"`
	DatabaseNumber int            `yaml:"database_number"`
	// Prefix starts every key backline writes, so it can share a Redis
	// (or a Nauthilus's Redis) with other programs. Default "backline:".
	Prefix       string        `yaml:"prefix"`
	PoolSize     int           `yaml:"pool_size"`      // 0: the client's default (10 per CPU)
	IdlePoolSize int           `yaml:"idle_pool_size"` // idle connections kept open
	PoolTimeout  time.Duration `yaml:"pool_timeout"`   // wait for a free connection
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	TLS          RedisTLS      `yaml:"tls"`
	// CircuitBreaker is backline's own (Nauthilus has none): it makes
	// commands fail at once while Redis is unreachable.
	CircuitBreaker RedisCircuitBreaker `yaml:"circuit_breaker"`
}

// RedisNode is storage.redis.primary: the standalone server, and the data
// nodes' credentials in Sentinel mode (where the address comes from the
// Sentinels).
type RedisNode struct {
	Address      string `yaml:"address"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// RedisReplica is storage.redis.replica. Accepted for Nauthilus files;
// backline reads from the primary (its state must read its own writes).
type RedisReplica struct {
	Addresses []string `yaml:"addresses"`
}

// RedisSentinels is storage.redis.sentinels; username and password are the
// Sentinels' own, the data nodes use primary's.
type RedisSentinels struct {
	Master       string   `yaml:"master"`
	Addresses    []string `yaml:"addresses"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
}

// RedisCluster is storage.redis.cluster: seed addresses of a Redis Cluster.
type RedisCluster struct {
	Addresses    []string `yaml:"addresses"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
}

// RedisTLS is storage.redis.tls.
type RedisTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"` // empty: the system roots
	Cert       string `yaml:"cert"`    // client certificate file, with key
	Key        string `yaml:"key"`
	SkipVerify bool   `yaml:"skip_verify"`
	ServerName string `yaml:"server_name"` // empty: the host of each address
}

// Redis topologies, as Mode reports them.
const (
	RedisStandalone  = "standalone"
	RedisSentinel    = "sentinel"
	RedisClusterMode = "cluster"
)

// Mode is the configured topology; empty when none is (an invalid file).
func (r *Redis) Mode() string {
	switch {
	case len(r.Cluster.Addresses) > 0:
		return RedisClusterMode
	case r.Sentinels.Master != "" || len(r.Sentinels.Addresses) > 0:
		return RedisSentinel
	case r.Primary.Address != "":
		return RedisStandalone
	}
	return ""
}

// Defaults and limits of storage.redis. The timeouts are short because a
// login may wait on Redis: a slow Redis must fail over to local state, not
// hold logins.
const (
	DefaultRedisPrefix       = "backline:"
	DefaultRedisDialTimeout  = time.Second
	DefaultRedisReadTimeout  = 500 * time.Millisecond
	DefaultRedisWriteTimeout = 500 * time.Millisecond
	DefaultRedisPoolTimeout  = time.Second
	MaxRedisPrefixLen        = 64
	MaxRedisAddresses        = 64
	MaxRedisPoolSize         = 10000
	MaxRedisDatabaseNumber   = 1023
)

const redisPath = "storage.redis"

// validateStorage checks storage.redis, loads its password files and fills
// in defaults. Passwords never appear in a message.
func (v *validator) validateStorage() {
	r := v.c.Storage.Redis
	if r == nil {
		return
	}
	v.validateRedisTopology(r)
	v.validateRedisCredentials(r)
	if r.DatabaseNumber < 0 || r.DatabaseNumber > MaxRedisDatabaseNumber {
		v.add(redisPath+".database_number", "must be 0..%d, got %d", MaxRedisDatabaseNumber, r.DatabaseNumber)
	} else if r.DatabaseNumber != 0 && r.Mode() == RedisClusterMode {
		v.add(redisPath+".database_number", "must be 0 with cluster (Redis Cluster has only database 0), got %d", r.DatabaseNumber)
	}
	v.validateRedisPrefix(r)
	if r.PoolSize < 0 || r.PoolSize > MaxRedisPoolSize {
		v.add(redisPath+".pool_size", "must be 0..%d, got %d", MaxRedisPoolSize, r.PoolSize)
	}
	if r.IdlePoolSize < 0 || r.IdlePoolSize > MaxRedisPoolSize {
		v.add(redisPath+".idle_pool_size", "must be 0..%d, got %d", MaxRedisPoolSize, r.IdlePoolSize)
	} else if r.PoolSize > 0 && r.IdlePoolSize > r.PoolSize {
		v.add(redisPath+".idle_pool_size", "must not exceed pool_size (%d), got %d", r.PoolSize, r.IdlePoolSize)
	}
	for _, d := range []struct {
		key string
		val *time.Duration
		def time.Duration
	}{
		{"pool_timeout", &r.PoolTimeout, DefaultRedisPoolTimeout},
		{"dial_timeout", &r.DialTimeout, DefaultRedisDialTimeout},
		{"read_timeout", &r.ReadTimeout, DefaultRedisReadTimeout},
		{"write_timeout", &r.WriteTimeout, DefaultRedisWriteTimeout},
	} {
		path := redisPath + "." + d.key
		if !v.written[path] {
			*d.val = d.def
			continue
		}
		v.checkDuration(path, *d.val, 30*time.Second)
	}
	v.validateRedisTLS(&r.TLS)
	v.validateRedisBreaker(&r.CircuitBreaker)
}

func (v *validator) validateRedisTopology(r *Redis) {
	var set []string
	if r.Primary.Address != "" || v.written[redisPath+".primary.address"] {
		set = append(set, "primary.address")
	}
	if r.Sentinels.Master != "" || len(r.Sentinels.Addresses) > 0 {
		set = append(set, "sentinels")
	}
	if len(r.Cluster.Addresses) > 0 {
		set = append(set, "cluster.addresses")
	}
	switch len(set) {
	case 0:
		v.add(redisPath, "needs one of primary.address, sentinels (master and addresses) or cluster.addresses (leave storage.redis out to keep state in memory)")
	case 1:
	default:
		v.add(redisPath+"."+set[1], "set only one of primary.address, sentinels or cluster.addresses, got %s", strings.Join(set, " and "))
	}
	if r.Primary.Address != "" || v.written[redisPath+".primary.address"] {
		v.checkRedisAddress(redisPath+".primary.address", r.Primary.Address)
	}
	v.checkRedisAddresses(redisPath+".replica.addresses", r.Replica.Addresses)
	if len(r.Replica.Addresses) > 0 && r.Mode() != RedisStandalone {
		v.add(redisPath+".replica.addresses", "only goes with primary.address (Sentinel and Cluster find replicas themselves)")
	}
	if r.Mode() == RedisSentinel {
		switch {
		case strings.TrimSpace(r.Sentinels.Master) == "":
			v.add(redisPath+".sentinels.master", "is required with sentinels.addresses (the name the Sentinels monitor)")
		case strings.ContainsFunc(r.Sentinels.Master, isControlOrSpace):
			v.add(redisPath+".sentinels.master", "must not contain white space or control characters")
		}
		if len(r.Sentinels.Addresses) == 0 {
			v.add(redisPath+".sentinels.addresses", "is required with sentinels.master")
		}
	}
	v.checkRedisAddresses(redisPath+".sentinels.addresses", r.Sentinels.Addresses)
	v.checkRedisAddresses(redisPath+".cluster.addresses", r.Cluster.Addresses)
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

func (v *validator) checkRedisAddresses(path string, addrs []string) {
	if len(addrs) > MaxRedisAddresses {
		v.add(path, "must list at most %d addresses, got %d", MaxRedisAddresses, len(addrs))
		return
	}
	seen := map[string]int{}
	for i, a := range addrs {
		key := fmt.Sprintf("%s[%d]", path, i)
		if !v.checkRedisAddress(key, a) {
			continue
		}
		if first, dup := seen[a]; dup {
			v.add(key, "%q is already listed at %s[%d]", a, lastKey(path), first)
			continue
		}
		seen[a] = i
	}
}

// checkRedisAddress wants host:port; it reports whether addr is valid.
func (v *validator) checkRedisAddress(path, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		v.add(path, "must be host:port (for example 127.0.0.1:6379), got %q", addr)
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(path, "port must be 1..65535, got %q", port)
		return false
	}
	if msg := CheckHost(host); msg != "" {
		v.add(path, "host %s", msg)
		return false
	}
	return true
}

// validateRedisCredentials loads the password files; a username needs a
// password (Redis ACL AUTH takes both), a blank password is refused.
func (v *validator) validateRedisCredentials(r *Redis) {
	for _, c := range []struct {
		path                 string
		user, pass, passFile *string
	}{
		{redisPath + ".primary", &r.Primary.Username, &r.Primary.Password, &r.Primary.PasswordFile},
		{redisPath + ".sentinels", &r.Sentinels.Username, &r.Sentinels.Password, &r.Sentinels.PasswordFile},
		{redisPath + ".cluster", &r.Cluster.Username, &r.Cluster.Password, &r.Cluster.PasswordFile},
	} {
		v.loadSecret(c.pass, *c.passFile, c.path+".password", c.path+".password_file")
		switch {
		case v.written[c.path+".password"] && strings.TrimSpace(*c.pass) == "":
			v.add(c.path+".password", "must not be empty or blank (leave it out for no password)")
		case *c.passFile != "" && *c.pass != "" && strings.TrimSpace(*c.pass) == "":
			v.add(c.path+".password_file", "file %q holds only white space", *c.passFile)
		case *c.user != "" && *c.pass == "" && *c.passFile == "":
			v.add(c.path+".username", "needs password or password_file")
		}
		if strings.ContainsFunc(*c.user, isControlOrSpace) {
			v.add(c.path+".username", "must not contain white space or control characters")
		}
	}
	mode := r.Mode()
	if mode == RedisClusterMode && (r.Primary.Username != "" || r.Primary.Password != "") {
		v.add(v.credentialKey(redisPath+".primary", r.Primary.Username), "is not used with cluster; set cluster.username and cluster.password")
	}
	if mode != RedisClusterMode && (r.Cluster.Username != "" || r.Cluster.Password != "") {
		v.add(v.credentialKey(redisPath+".cluster", r.Cluster.Username), "only goes with cluster.addresses")
	}
}

// credentialKey names the username key when one is set, else the password
// key the operator wrote, so the error points at a line of the file.
func (v *validator) credentialKey(path, user string) string {
	switch {
	case user != "":
		return path + ".username"
	case v.written[path+".password_file"]:
		return path + ".password_file"
	}
	return path + ".password"
}

// validateRedisPrefix keeps keys readable in redis-cli and out of the way
// of Cluster hash tags, which backline sets itself.
func (v *validator) validateRedisPrefix(r *Redis) {
	const path = redisPath + ".prefix"
	if !v.written[path] {
		r.Prefix = DefaultRedisPrefix
		return
	}
	switch {
	case len(r.Prefix) > MaxRedisPrefixLen:
		v.add(path, "must be at most %d bytes, got %d", MaxRedisPrefixLen, len(r.Prefix))
	case strings.ContainsFunc(r.Prefix, func(c rune) bool { return c <= ' ' || c >= 0x7f }):
		v.add(path, "must be printable ASCII without spaces, got %q", r.Prefix)
	case strings.ContainsAny(r.Prefix, "{}"):
		v.add(path, "must not contain { or } (backline sets the Cluster hash tags), got %q", r.Prefix)
	}
}

func (v *validator) validateRedisTLS(t *RedisTLS) {
	const path = redisPath + ".tls"
	if !t.Enabled {
		if t.CAFile != "" || t.Cert != "" || t.Key != "" || t.SkipVerify || t.ServerName != "" {
			v.add(path+".enabled", "must be true when other tls keys are set")
		}
		return
	}
	if t.CAFile != "" {
		if !v.caFile(path+".ca_file", t.CAFile) {
			t.CAFile = "" // --no-secrets: the system roots stand in
		}
	}
	switch {
	case (t.Cert == "") != (t.Key == ""):
		missing := "key"
		if t.Cert == "" {
			missing = "cert"
		}
		v.add(path+"."+missing, "is required: cert and key go together")
	case t.Cert != "":
		if err := checkKeyPair(t.Cert, t.Key); err != nil {
			v.add(path+".cert", "%v", err)
		}
	}
	if t.ServerName != "" {
		if msg := CheckHost(t.ServerName); msg != "" {
			v.add(path+".server_name", "%s", msg)
		}
	}
}

// checkKeyPair loads a client certificate and key; the errors name the
// files, never the key's content.
func checkKeyPair(certFile, keyFile string) error {
	cert, err := readFileLimited(certFile, MaxPEMFileSize)
	if err != nil {
		return err
	}
	key, err := readFileLimited(keyFile, MaxPEMFileSize)
	if err != nil {
		return err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return fmt.Errorf("files %q and %q are not a certificate and its key", certFile, keyFile)
	}
	return nil
}
