package redis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
	"github.com/vero-oms/omsd/store/storetest"
)

// startSentinel runs a real redis-sentinel monitoring master and returns
// its address once it reports the master.
func startSentinel(t *testing.T, master *redistest.RedisServer) string {
	t.Helper()
	return startSentinelAuth(t, master, "", "")
}

// startSentinelAuth is startSentinel for a master that requires
// masterPass, with the Sentinel itself requiring sentinelPass (either may
// be empty for none).
func startSentinelAuth(t *testing.T, master *redistest.RedisServer, masterPass, sentinelPass string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	host, mport, _ := net.SplitHostPort(master.Addr())
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor omsmaster %s %s 1\n", port, dir, host, mport)
	if masterPass != "" {
		body += "sentinel auth-pass omsmaster " + masterPass + "\n"
	}
	if sentinelPass != "" {
		body += "requirepass " + sentinelPass + "\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: addr, Password: sentinelPass})
	defer sc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := sc.GetMasterAddrByName(context.Background(), "omsmaster").Result()
		if err == nil && len(got) == 2 && net.JoinHostPort(got[0], got[1]) == master.Addr() {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel did not report the master: %v %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The conformance suite through Sentinel discovery (Options.MasterName).
func TestConformanceThroughSentinel(t *testing.T) {
	master := redistest.StartRedis(t)
	if master.External() {
		t.Skip("needs a local redis-server to run a sentinel beside it")
	}
	sentinel := startSentinel(t, master)
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := redis.Open(context.Background(), redis.Options{
			Addrs: []string{sentinel}, MasterName: "omsmaster", Prefix: redistest.UniquePrefix(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}
