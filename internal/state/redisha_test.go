package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testfixture"
)

// Tests against the fixture's Redis Sentinel set (primary, replica, one
// Sentinel) and Redis Cluster (three primaries), through clients built by
// NewRedisClient from storage.redis configuration, as the daemon builds them.

// haWait bounds every wait on a failover or a slot move.
const haWait = 20 * time.Second

func clientFromYAML(t *testing.T, redisYAML string) redis.UniversalClient {
	t.Helper()
	cfg, err := config.Parse([]byte("storage:\n  redis:\n" + redisYAML))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	c, err := NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually runs f until it returns nil or haWait passes; it returns the
// number of failed attempts, failing t with the last error on timeout.
func eventually(t *testing.T, what string, f func() error) int {
	t.Helper()
	deadline := time.Now().Add(haWait)
	for failures := 0; ; failures++ {
		err := f()
		if err == nil {
			return failures
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, haWait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sentinelReady waits until the Sentinel names a primary among nodes and
// knows a healthy replica of it (so a failover can run), and returns the
// primary's address. It does not assume which node is primary: an earlier
// run may have failed over.
func sentinelReady(t *testing.T, ctx context.Context, sc *redis.SentinelClient, master string, nodes []string) string {
	t.Helper()
	var primary string
	eventually(t, "Sentinel ready to fail over "+master, func() error {
		addr, err := sc.GetMasterAddrByName(ctx, master).Result()
		if err != nil {
			return err
		}
		primary = addr[0] + ":" + addr[1]
		if !contains(nodes, primary) {
			return fmt.Errorf("primary %s is not a fixture node %v", primary, nodes)
		}
		m, err := sc.Master(ctx, master).Result()
		if err != nil {
			return err
		}
		if m["flags"] != "master" {
			return fmt.Errorf("primary flags %q (failover still running?)", m["flags"])
		}
		replicas, err := sc.Replicas(ctx, master).Result()
		if err != nil {
			return err
		}
		for _, r := range replicas {
			addr := r["ip"] + ":" + r["port"]
			if addr != primary && contains(nodes, addr) && r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("no healthy replica of %s yet: %v", primary, replicas)
	})
	return primary
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRedisSentinelFollowsFailover: a client built from storage.redis.sentinels
// writes through the primary; after SENTINEL FAILOVER it keeps working against
// the promoted replica, and the data written before is there.
func TestRedisSentinelFollowsFailover(t *testing.T) {
	fx := testfixture.Load(t)
	master, sentinelAddr := fx.Get("REDIS_SENTINEL_MASTER"), fx.Addr("REDIS_SENTINEL")
	nodes := []string{fx.Addr("REDIS_SENTINEL_NODE_A"), fx.Addr("REDIS_SENTINEL_NODE_B")}
	ctx := context.Background()
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr})
	defer sc.Close()
	before := sentinelReady(t, ctx, sc, master, nodes)

	c := clientFromYAML(t, fmt.Sprintf("    sentinels:\n      master: %s\n      addresses: [%s]\n", master, sentinelAddr))
	key := "backline-test:sentinel:" + randomHex(t)
	defer func() { _ = c.Del(context.Background(), key).Err() }()
	if err := c.Set(ctx, key, "before", time.Minute).Err(); err != nil {
		t.Fatalf("write through the primary: %v", err)
	}
	if v, err := c.Get(ctx, key).Result(); err != nil || v != "before" {
		t.Fatalf("read = %q, %v", v, err)
	}
	// Replication is asynchronous: make sure the replica holds the write
	// before promoting it.
	raw := redis.NewClient(&redis.Options{Addr: before})
	n, err := raw.Do(ctx, "WAIT", 1, 5000).Int()
	raw.Close()
	if err != nil || n < 1 {
		t.Fatalf("WAIT for the replica = %d, %v", n, err)
	}

	eventually(t, "SENTINEL FAILOVER", func() error { return sc.Failover(ctx, master).Err() })
	var after string
	eventually(t, "Sentinel naming a new primary", func() error {
		addr, err := sc.GetMasterAddrByName(ctx, master).Result()
		if err != nil {
			return err
		}
		if after = addr[0] + ":" + addr[1]; after == before {
			return errors.New("primary still " + before)
		}
		return nil
	})

	// The same client, untouched: reads find the old data, and its writes
	// land on the promoted replica. The Sentinel names the new primary
	// before the old one is demoted, so for a moment the old one still takes
	// writes (Redis loses them when it resyncs): each attempt writes a new
	// value and checks the promoted node holds it.
	nc := redis.NewClient(&redis.Options{Addr: after})
	defer nc.Close()
	failed := eventually(t, "client reading after the failover", func() error {
		v, err := c.Get(ctx, key).Result()
		if err == nil && v != "before" {
			t.Fatalf("after failover read %q, want %q", v, "before")
		}
		return err
	})
	attempt := 0
	failed += eventually(t, "client writing to the promoted replica "+after, func() error {
		attempt++
		want := fmt.Sprintf("after-%d", attempt)
		if err := c.Set(ctx, key, want, time.Minute).Err(); err != nil {
			return err
		}
		if v, err := nc.Get(ctx, key).Result(); err != nil || v != want {
			return fmt.Errorf("promoted primary holds %q, %v; want %q", v, err, want)
		}
		if v, err := c.Get(ctx, key).Result(); err != nil || v != want {
			return fmt.Errorf("client reads %q, %v; want %q", v, err, want)
		}
		return nil
	})
	t.Logf("failover %s -> %s; %d failed attempts while the client followed", before, after, failed)
	if role, err := nc.Do(ctx, "ROLE").Slice(); err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("ROLE of %s = %v, %v", after, role, err)
	}

	// Leave the set consistent for whatever runs next: the old primary
	// replicates from the new one. The Sentinel does this too, but only
	// after about eight seconds; doing it now is the same command.
	host, port, _ := strings.Cut(after, ":")
	oc := redis.NewClient(&redis.Options{Addr: before})
	defer oc.Close()
	eventually(t, "old primary "+before+" replicating from "+after, func() error {
		if err := oc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
			return err
		}
		info, err := oc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("replication link not up yet")
		}
		return nil
	})
}
