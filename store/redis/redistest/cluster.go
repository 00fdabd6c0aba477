package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	redisstore "github.com/vero-oms/omsd/store/redis"
)

// RedisCluster is a Redis Cluster of private redis-server processes on
// loopback ports (masters only), stopped in the tb.Cleanup of StartRedisCluster.
type RedisCluster struct {
	nodes    []*RedisServer
	password string // requirepass of every node; empty for none
}

// StartRedisCluster starts `masters` cluster-enabled servers (at least 3) and
// joins them with redis-cli --cluster create. It needs redis-server and
// redis-cli on PATH; without them it fails when CI=true and skips otherwise.
func StartRedisCluster(tb testing.TB, masters int) *RedisCluster {
	tb.Helper()
	return startRedisCluster(tb, masters, "")
}

// StartRedisClusterAuth is StartRedisCluster with every node requiring
// password (requirepass, and masterauth for the cluster's own links).
func StartRedisClusterAuth(tb testing.TB, masters int, password string) *RedisCluster {
	tb.Helper()
	if password == "" {
		tb.Fatal("storetest: StartRedisClusterAuth needs a password")
	}
	return startRedisCluster(tb, masters, password)
}

func startRedisCluster(tb testing.TB, masters int, password string) *RedisCluster {
	tb.Helper()
	masters = max(masters, 3)
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(EnvRedisURL) != "" {
				// Tests do run against Redis, just not a cluster.
				tb.Skipf("storetest: %s is not on PATH; a Redis Cluster needs it", bin)
			}
			noRedis(tb, bin+" is not on PATH (needed for a Redis Cluster)")
		}
	}
	c := &RedisCluster{password: password}
	tb.Cleanup(c.stop)
	root := tb.TempDir()
	for i := range masters {
		busPort, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		dir := filepath.Join(root, strconv.Itoa(i))
		args := []string{
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(busPort),
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000",
		}
		if password != "" {
			args = append(args, "--requirepass", password, "--masterauth", password)
		}
		n, err := startServer(dir, args, false)
		if err != nil {
			tb.Fatalf("storetest: cluster node %d: %v", i, err)
		}
		n.tb = tb
		c.nodes = append(c.nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	if password != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password) // not on the command line
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("storetest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	return c
}

// waitOK waits until every node reports the cluster ok and knows every node,
// so a client sees one consistent slot map.
func (c *RedisCluster) waitOK(ctx context.Context) error {
	for _, n := range c.nodes {
		cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), Password: c.password})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.nodes))+"\r") {
				break
			}
			select {
			case <-ctx.Done():
				_ = cl.Close()
				return fmt.Errorf("cluster node %s not ok: %w %q", n.Addr(), err, info)
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = cl.Close()
	}
	return nil
}

func (c *RedisCluster) stop() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// Addrs lists the nodes' host:port addresses.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// NewClient returns a cluster client, closed in tb.Cleanup.
func (c *RedisCluster) NewClient(tb testing.TB) *goredis.ClusterClient {
	cl := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs(), Password: c.password, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// NewStore returns a Redis store on the cluster under a unique prefix,
// closed in tb.Cleanup.
func (c *RedisCluster) NewStore(tb testing.TB) store.Store {
	cl := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs(), Password: c.password, ContextTimeoutEnabled: true})
	s := redisstore.New(cl, UniquePrefix())
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
