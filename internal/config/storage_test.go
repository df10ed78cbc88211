package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// redisBlock returns a file whose storage.redis block is body; the first
// line of body is line 3.
func redisBlock(body string) string {
	return "storage:\n  redis:\n" + indent(body, 4)
}

func TestStorageRedisAbsentIsMemory(t *testing.T) {
	for _, yml := range []string{"", "storage:\n", "storage:\n  redis:\n"} {
		if c := mustParse(t, yml); c.Storage.Redis != nil {
			t.Errorf("%q: Redis = %+v, want nil (memory store)", yml, c.Storage.Redis)
		}
	}
}

func TestStorageRedisStandaloneDefaults(t *testing.T) {
	c := mustParse(t, redisBlock("primary:\n  address: 127.0.0.1:6379\n"))
	r := c.Storage.Redis
	if r.Mode() != RedisStandalone || r.Primary.Address != "127.0.0.1:6379" {
		t.Fatalf("mode %q, %+v", r.Mode(), r.Primary)
	}
	if r.Prefix != DefaultRedisPrefix || r.DialTimeout != DefaultRedisDialTimeout ||
		r.ReadTimeout != DefaultRedisReadTimeout || r.WriteTimeout != DefaultRedisWriteTimeout ||
		r.PoolTimeout != DefaultRedisPoolTimeout || r.DatabaseNumber != 0 || r.PoolSize != 0 {
		t.Errorf("defaults: %+v", r)
	}
}

func TestStorageRedisFullNauthilusBlock(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "redis-pw")
	writeFile(t, pw, "from-file\n")
	ca := testutil.NewPKI(t).WriteCA(t, dir)
	c := mustParse(t, redisBlock(`primary:
  address: redis.example.org:6380
  username: backline
  password_file: `+pw+`
replica:
  addresses: [10.0.0.2:6379, 10.0.0.3:6379]
database_number: 2
prefix: "bl_"
pool_size: 20
idle_pool_size: 4
pool_timeout: 150ms
dial_timeout: 2s
read_timeout: 250ms
write_timeout: 0.3
tls:
  enabled: true
  ca_file: `+ca+`
  server_name: redis.example.org
`))
	r := c.Storage.Redis
	if r.Primary.Password != "from-file" || r.Primary.Username != "backline" {
		t.Errorf("credentials: %q %q", r.Primary.Username, r.Primary.Password)
	}
	if r.DatabaseNumber != 2 || r.Prefix != "bl_" || r.PoolSize != 20 || r.IdlePoolSize != 4 ||
		r.PoolTimeout != 150*time.Millisecond || r.DialTimeout != 2*time.Second ||
		r.ReadTimeout != 250*time.Millisecond || r.WriteTimeout != 300*time.Millisecond {
		t.Errorf("settings: %+v", r)
	}
	if !r.TLS.Enabled || r.TLS.CAFile != ca || len(r.Replica.Addresses) != 2 {
		t.Errorf("tls/replicas: %+v %v", r.TLS, r.Replica)
	}
}

func TestStorageRedisSentinelAndCluster(t *testing.T) {
	c := mustParse(t, redisBlock(`sentinels:
  master: mymaster
  addresses: ["127.0.0.1:26379", "[::1]:26380"]
  password: sentinel-pw
primary:
  password: data-pw
`))
	r := c.Storage.Redis
	if r.Mode() != RedisSentinel || r.Sentinels.Master != "mymaster" || r.Primary.Password != "data-pw" {
		t.Errorf("sentinel: %+v", r)
	}
	c = mustParse(t, redisBlock("cluster:\n  addresses: [127.0.0.1:7000, 127.0.0.1:7001]\n  username: u\n  password: p\n"))
	if r := c.Storage.Redis; r.Mode() != RedisClusterMode || len(r.Cluster.Addresses) != 2 {
		t.Errorf("cluster: %+v", r)
	}
}

func TestStorageRedisErrors(t *testing.T) {
	const rp = "storage.redis."
	for _, c := range []struct{ body, want string }{
		{"prefix: x\n", "storage.redis (line 2): needs one of primary.address, sentinels (master and addresses) or cluster.addresses (leave storage.redis out to keep state in memory)"},
		{"primary:\n  address: 127.0.0.1:6379\ncluster:\n  addresses: [127.0.0.1:7000]\n",
			rp + "cluster.addresses (line 6): set only one of primary.address, sentinels or cluster.addresses, got primary.address and cluster.addresses"},
		{"primary:\n  address: localhost\n", rp + `primary.address (line 4): must be host:port (for example 127.0.0.1:6379), got "localhost"`},
		{"primary:\n  address: ''\n", rp + `primary.address (line 4): must be host:port (for example 127.0.0.1:6379), got ""`},
		{"primary:\n  address: 127.0.0.1:0\n", rp + `primary.address (line 4): port must be 1..65535, got "0"`},
		{"primary:\n  address: \"bad host:6379\"\n", rp + "primary.address (line 4): host "},
		{"sentinels:\n  addresses: [127.0.0.1:26379]\n", rp + "sentinels.master (line 3): is required with sentinels.addresses (the name the Sentinels monitor)"},
		{"sentinels:\n  master: mymaster\n", rp + "sentinels.addresses (line 3): is required with sentinels.master"},
		{"sentinels:\n  master: \"my master\"\n  addresses: [127.0.0.1:26379]\n", rp + "sentinels.master (line 4): must not contain white space or control characters"},
		{"cluster:\n  addresses: [127.0.0.1:7000, 127.0.0.1:7000]\n", rp + `cluster.addresses[1] (line 4): "127.0.0.1:7000" is already listed at addresses[0]`},
		{"cluster:\n  addresses: [127.0.0.1:7000]\ndatabase_number: 3\n", rp + "database_number (line 5): must be 0 with cluster (Redis Cluster has only database 0), got 3"},
		{"cluster:\n  addresses: [127.0.0.1:7000]\nreplica:\n  addresses: [127.0.0.1:7001]\n", rp + "replica.addresses (line 6): only goes with primary.address (Sentinel and Cluster find replicas themselves)"},
		{"primary:\n  address: 127.0.0.1:6379\ndatabase_number: -1\n", rp + "database_number (line 5): must be 0..1023, got -1"},
		{"primary:\n  address: 127.0.0.1:6379\npool_size: 10001\n", rp + "pool_size (line 5): must be 0..10000, got 10001"},
		{"primary:\n  address: 127.0.0.1:6379\npool_size: 2\nidle_pool_size: 3\n", rp + "idle_pool_size (line 6): must not exceed pool_size (2), got 3"},
		{"primary:\n  address: 127.0.0.1:6379\ndial_timeout: 0s\n", rp + "dial_timeout (line 5): must be greater than 0 (leave the key out for the default)"},
		{"primary:\n  address: 127.0.0.1:6379\nread_timeout: 31s\n", rp + "read_timeout (line 5): must be at most 30s, got 31s"},
		{"primary:\n  address: 127.0.0.1:6379\nprefix: \"a b\"\n", rp + `prefix (line 5): must be printable ASCII without spaces, got "a b"`},
		{"primary:\n  address: 127.0.0.1:6379\nprefix: \"{bl}\"\n", rp + `prefix (line 5): must not contain { or } (backline sets the Cluster hash tags), got "{bl}"`},
		{"primary:\n  address: 127.0.0.1:6379\nprefix: \"" + strings.Repeat("p", 65) + "\"\n", rp + "prefix (line 5): must be at most 64 bytes, got 65"},
		{"primary:\n  address: 127.0.0.1:6379\n  username: u\n", rp + "primary.username (line 5): needs password or password_file"},
		{"primary:\n  address: 127.0.0.1:6379\n  password: '  '\n", rp + "primary.password (line 5): must not be empty or blank (leave it out for no password)"},
		{"primary:\n  address: 127.0.0.1:6379\n  username: \"a\\nb\"\n  password: p\n", rp + "primary.username (line 5): must not contain white space or control characters"},
		{"primary:\n  address: 127.0.0.1:6379\ncluster:\n  password: p\n", rp + "cluster.password (line 6): only goes with cluster.addresses"},
		{"primary:\n  address: 127.0.0.1:6379\ntls:\n  skip_verify: true\n", rp + "tls.enabled (line 5): must be true when other tls keys are set"},
		{"primary:\n  address: 127.0.0.1:6379\ntls:\n  enabled: true\n  cert: /nonexistent/c.pem\n", rp + "tls.key (line 5): is required: cert and key go together"},
		{"primary:\n  address: 127.0.0.1:6379\ntls:\n  enabled: true\n  ca_file: /nonexistent/ca.pem\n", rp + `tls.ca_file (line 7): cannot read "/nonexistent/ca.pem"`},
		{"primary:\n  address: 127.0.0.1:6379\n  unknown: 1\n", rp + "primary.unknown (line 5): "},
	} {
		got := parseErrors(t, redisBlock(c.body))
		found := false
		for _, g := range got {
			if g == c.want || strings.HasSuffix(c.want, " ") && strings.HasPrefix(g, c.want) ||
				strings.HasSuffix(c.want, `"`) && strings.HasPrefix(g, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing error\n want: %s\n got:  %q\ninput:\n%s", c.want, got, c.body)
		}
	}
}

func TestStorageRedisPasswordNeverInErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pw")
	writeFile(t, good, uniqueSecret+"\n")
	spaced := filepath.Join(dir, "spaced")
	writeFile(t, spaced, "   \n")
	for name, body := range map[string]string{
		"both":         "primary:\n  address: 127.0.0.1:6379\n  password: " + uniqueSecret + "\n  password_file: " + good + "\n",
		"no topology":  "primary:\n  password: " + uniqueSecret + "\n",
		"cluster user": "cluster:\n  addresses: [127.0.0.1:7000]\nprimary:\n  password: " + uniqueSecret + "\n",
		"as list":      "primary:\n  address: 127.0.0.1:6379\n  password: [" + uniqueSecret + "]\n",
		"sentinel pw":  "sentinels:\n  master: m\n  password: " + uniqueSecret + "\n",
		"blank file":   "primary:\n  address: 127.0.0.1:6379\n  password_file: " + spaced + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			for _, e := range parseErrors(t, redisBlock(body)) {
				if strings.Contains(e, uniqueSecret) {
					t.Errorf("error reveals the password: %s", e)
				}
			}
		})
	}
}

// TestExampleStorageBlockLoads uncomments the storage block of
// backline.example.yml and parses it, so the documented keys stay valid.
func TestExampleStorageBlockLoads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "backline.example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if line == "# storage:" {
			in = true
		}
		if in && !strings.HasPrefix(line, "#") {
			break
		}
		if in {
			block = append(block, strings.TrimPrefix(line, "# "))
		}
	}
	if len(block) < 5 {
		t.Fatalf("no storage block in the example (%d lines)", len(block))
	}
	pw := filepath.Join(t.TempDir(), "redis-password")
	writeFile(t, pw, "example\n")
	yml := strings.ReplaceAll(strings.Join(block, "\n")+"\n", "/etc/backline/redis-password", pw)
	c := mustParse(t, yml)
	r := c.Storage.Redis
	if r == nil || r.Mode() != RedisStandalone || r.Primary.Password != "example" || r.Prefix != DefaultRedisPrefix ||
		r.DialTimeout != DefaultRedisDialTimeout || r.ReadTimeout != DefaultRedisReadTimeout ||
		r.CircuitBreaker.ConsecutiveFailures != DefaultRedisBreakerFailures ||
		r.CircuitBreaker.OpenTime != DefaultRedisBreakerOpenTime || r.CircuitBreaker.MaxOpenTime != DefaultRedisBreakerOpenTime {
		t.Errorf("example storage block = %+v", r)
	}
}
