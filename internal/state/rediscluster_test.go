package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/testfixture"
)

// Tests against the fixture's Redis Cluster (three primaries) through a
// client built by NewRedisClient from storage.redis.cluster.

func fixtureClusterClient(t *testing.T, fx *testfixture.Fixture) (*redis.ClusterClient, []string) {
	t.Helper()
	addrs := strings.Split(fx.Get("REDIS_CLUSTER_ADDRESSES"), ",")
	c := clientFromYAML(t, "    cluster:\n      addresses: ["+strings.Join(addrs, ", ")+"]\n")
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("storage.redis.cluster built a %T", c)
	}
	return cc, addrs
}

// slotOwners maps every slot to the address of the primary serving it, as
// the node at addr sees it.
func slotOwners(t *testing.T, ctx context.Context, addr string) map[int]string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS on %s: %v", addr, err)
	}
	owners := make(map[int]string, 16384)
	for _, r := range slots {
		for s := r.Start; s <= r.End; s++ {
			owners[s] = r.Nodes[0].Addr
		}
	}
	return owners
}

// TestRedisClusterFollowsMoved: the cluster client reads and writes keys
// spread over all three primaries; then the slot of one key moves to another
// primary behind the client's back (CLUSTER SETSLOT IMPORTING / MIGRATING,
// MIGRATE, SETSLOT NODE). A plain client on the old owner gets MOVED; the
// cluster client follows it and keeps reading and writing the key.
func TestRedisClusterFollowsMoved(t *testing.T) {
	fx := testfixture.Load(t)
	ctx := context.Background()
	c, addrs := fixtureClusterClient(t, fx)
	prefix := "backline-test:" + randomHex(t) + ":"
	t.Cleanup(func() { clusterDeletePrefix(t, c, prefix) })

	owners := slotOwners(t, ctx, addrs[0])
	used := map[string]bool{}
	for i := range 60 {
		k := prefix + strconv.Itoa(i)
		if err := c.Set(ctx, k, i, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		used[owners[int(clusterSlot(t, ctx, c, k))]] = true
	}
	for i := range 60 {
		k := prefix + strconv.Itoa(i)
		if v, err := c.Get(ctx, k).Int(); err != nil || v != i {
			t.Fatalf("GET %s = %d, %v", k, v, err)
		}
	}
	if len(used) != 3 {
		t.Errorf("60 keys landed on %d primaries %v, want all 3", len(used), used)
	}

	key := prefix + "moving"
	if err := c.Set(ctx, key, "v1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	slot := int(clusterSlot(t, ctx, c, key))
	src := owners[slot]
	var dst string
	for _, a := range addrs {
		if a != src {
			dst = a
			break
		}
	}
	moveSlot(t, ctx, slot, src, dst, addrs)

	plain := redis.NewClient(&redis.Options{Addr: src})
	defer plain.Close()
	err := plain.Get(ctx, key).Err()
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("MOVED %d %s", slot, dst)) {
		t.Fatalf("plain GET on the old owner %s: %v; want MOVED %d %s", src, err, slot, dst)
	}
	// The cluster client still maps the slot to src: its GET meets the same
	// MOVED and follows it.
	if v, err := c.Get(ctx, key).Result(); err != nil || v != "v1" {
		t.Fatalf("cluster client GET after the move = %q, %v", v, err)
	}
	if err := c.Set(ctx, key, "v2", time.Minute).Err(); err != nil {
		t.Fatalf("cluster client SET after the move: %v", err)
	}
	dc := redis.NewClient(&redis.Options{Addr: dst})
	defer dc.Close()
	if v, err := dc.Get(ctx, key).Result(); err != nil || v != "v2" {
		t.Errorf("new owner %s holds %q, %v; want v2", dst, v, err)
	}
	t.Logf("slot %d moved %s -> %s; plain client: %v", slot, src, dst, err)
}

func clusterSlot(t *testing.T, ctx context.Context, c *redis.ClusterClient, key string) int64 {
	t.Helper()
	s, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// moveSlot migrates slot from the primary at src to the one at dst, keys
// included, the way redis-cli --cluster reshard does it; every node is told
// the new owner at once. If the move fails half-way the slot is put back
// to stable on both ends so the cluster stays usable.
func moveSlot(t *testing.T, ctx context.Context, slot int, src, dst string, all []string) {
	t.Helper()
	sc := redis.NewClient(&redis.Options{Addr: src})
	defer sc.Close()
	dc := redis.NewClient(&redis.Options{Addr: dst})
	defer dc.Close()
	srcID, err := sc.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := dc.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	done := false
	defer func() {
		if !done {
			sc.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE")
			dc.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE")
		}
	}()
	if err := dc.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
		t.Fatalf("SETSLOT IMPORTING on %s: %v", dst, err)
	}
	if err := sc.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
		t.Fatalf("SETSLOT MIGRATING on %s: %v", src, err)
	}
	host, port, _ := strings.Cut(dst, ":")
	for {
		keys, err := sc.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := sc.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("MIGRATE %d keys to %s: %v", len(keys), dst, err)
		}
	}
	// The new owner first, then the others (the order the Redis manual gives).
	order := []string{dst}
	for _, a := range all {
		if a != dst {
			order = append(order, a)
		}
	}
	for _, a := range order {
		nc := redis.NewClient(&redis.Options{Addr: a})
		err := nc.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err()
		nc.Close()
		if err != nil {
			t.Fatalf("SETSLOT NODE on %s: %v", a, err)
		}
	}
	done = true
}

// clusterDeletePrefix removes the test's keys from every primary.
func clusterDeletePrefix(t *testing.T, c *redis.ClusterClient, prefix string) {
	ctx := context.Background()
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := n.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			// One by one: keys in different slots cannot go in one DEL.
			if err == nil {
				err = n.Del(ctx, k).Err()
			}
		}
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("cleaning up %s*: %v", prefix, err)
	}
}
