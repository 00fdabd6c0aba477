package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store/redis/redistest"
)

// A venue owner killed with SIGKILL leaves its lease in Redis. Restarted at
// once, omsd waits for the lease to lapse (saying so) instead of exiting,
// then rebuilds the books: the resting order is still working.
func TestKilledOwnerRestartsAndKeepsItsBooks(t *testing.T) {
	srv := redistest.StartRedis(t)
	addr := freeAddr(t)
	base := "http://" + addr
	args := []string{"serve", "--dev", "--dev-redis", "--redis-url", srv.URL(), "--redis-prefix", redistest.UniquePrefix(),
		"--addr", addr, "--mail-outbox", t.TempDir(), "--venue-lease-ttl", "3s", "--dev-market-maker=false", "--fix-addr", "off"}

	first, _, firstExited := startOmsd(t, args, base)
	jwt := loginTrader(t, base)
	post(t, base+"/api/v1/orders/new", jwt, `{"account_id":"099C000002","symbol":"FPT","side":"B","qty":100,"order_type":"LO","price":"95000","ref_order_id":"kept-1"}`)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-firstExited; err == nil {
		t.Fatal("omsd exited cleanly after SIGKILL")
	}

	began := time.Now()
	second, logs, _ := startOmsd(t, args, base)
	if !strings.Contains(logs.String(), "waiting for it to lapse") {
		t.Fatalf("the restarted owner did not say it waits for the lease:\n%s", logs.String())
	}
	t.Logf("up again after %v", time.Since(began).Round(time.Millisecond))
	jwt = loginTrader(t, base)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/util/orders?original_req_id=kept-1", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Orders []struct{ OrderStatus string } `json:"orders"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || len(got.Orders) != 1 || got.Orders[0].OrderStatus != "NEW" {
		t.Fatalf("the resting order after the restart: %+v %v", got, err)
	}
	_ = second.Process.Signal(syscall.SIGTERM)
}

// lockedLogs collects a child's output written from two pipes.
type lockedLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLogs) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startOmsd runs this test binary as omsd and waits until base answers.
func startOmsd(t *testing.T, args []string, base string) (*exec.Cmd, *lockedLogs, <-chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "OMSD_TEST_AS_MAIN=1")
	logs := &lockedLogs{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("omsd exited while starting: %v\n%s", err, logs.String())
		default:
		}
		if res, err := http.Get(base + "/api/v1/util/health"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return cmd, logs, exited
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("omsd did not come up: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loginTrader(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Post(base+"/api/auth/login", "application/json", strings.NewReader(`{"identifier":"trader@oms.example","password":"demo-trader-pass"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct{ JWT string }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.JWT == "" {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	return m.JWT
}

func post(t *testing.T, url, jwt, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
}
