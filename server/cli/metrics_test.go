package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server"
)

func TestMetricsAddrSetting(t *testing.T) {
	c, err := ParseConfig(nil, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("default metrics address %q", c.MetricsAddr)
	}
	c, _ = ParseConfig([]string{"--dev"}, envOf(map[string]string{"OMS_METRICS_ADDR": ""}), nil)
	if c.MetricsAddr != "" {
		t.Fatalf("OMS_METRICS_ADDR= gave %q", c.MetricsAddr)
	}
	app, err := Build(context.Background(), c, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	if app.MetricsHandler != nil {
		t.Fatal("an empty OMS_METRICS_ADDR still builds the metrics handler")
	}
	c, _ = ParseConfig([]string{"--dev", "--metrics-addr", "127.0.0.1:19464"}, envOf(map[string]string{"OMS_METRICS_ADDR": ""}), nil)
	if c.MetricsAddr != "127.0.0.1:19464" {
		t.Fatalf("--metrics-addr gave %q", c.MetricsAddr)
	}
}

// A metrics address already in use stops the start with a clear error.
func TestMetricsAddrInUseFailsTheStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	c, _ := ParseConfig([]string{"--dev", "--mail-outbox", t.TempDir()}, noEnv, nil)
	c.MetricsAddr = busy.Addr().String()
	app, err := Build(context.Background(), c, discard())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = Serve(context.Background(), c, app, ln, discard())
	if err == nil || !strings.Contains(err.Error(), "OMS_METRICS_ADDR") {
		t.Fatalf("Serve with a busy metrics address: %v", err)
	}
}

// The real binary (`omsd serve`, what `make run` runs) serves /metrics on
// OMS_METRICS_ADDR, not on the API address, and stops it on SIGTERM; an
// empty OMS_METRICS_ADDR serves none.
func TestServeExposesMetricsOnItsOwnAddress(t *testing.T) {
	run := func(metricsAddr string) (addr string, logs *lockedBuffer, stop func()) {
		addr = freeAddr(t)
		cmd := exec.Command(os.Args[0], "serve", "--dev", "--addr", addr, "--mail-outbox", t.TempDir(), "--fix-addr", "off")
		cmd.Env = append(os.Environ(), "OMSD_TEST_AS_MAIN=1", "OMS_METRICS_ADDR="+metricsAddr)
		logs = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if res, err := http.Get("http://" + addr + "/api/v1/util/health"); err == nil {
				_ = res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("omsd did not come up: %s", logs.String())
			}
		}
		return addr, logs, func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
			}
		}
	}
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	health := `omsd_http_requests_total{operation="` + spec.Paths.Find("/api/v1/util/health").GetOperation("GET").OperationID + `",status="200"}`
	maddr := freeAddr(t)
	addr, logs, stop := run(maddr)
	status, body := get("http://" + maddr + "/metrics")
	if status != 200 || !strings.Contains(body, health) ||
		!strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics on %s: %d\n%.2000s", maddr, status, body)
	}
	if status, _ := get("http://" + addr + "/metrics"); status != 404 {
		t.Fatalf("GET /metrics on the API address: %d, want 404", status)
	}
	if !strings.Contains(logs.String(), `"msg":"serving metrics"`) {
		t.Fatalf("no metrics log line:\n%s", logs.String())
	}
	stop()
	if _, err := http.Get("http://" + maddr + "/metrics"); err == nil {
		t.Fatal("metrics still served after exit")
	}

	_, logs, stop = run("")
	if strings.Contains(logs.String(), "serving metrics") {
		t.Fatalf("metrics served with OMS_METRICS_ADDR empty:\n%s", logs.String())
	}
	stop()
}
