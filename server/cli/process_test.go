package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as omsd itself when re-executed, so
// process-level behaviour (signals, exit codes) is tested on the real Main.
func TestMain(m *testing.M) {
	if os.Getenv("OMSD_TEST_AS_MAIN") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// The children these tests start inherit the environment: none of them
	// may take the fixed default metrics port (tests run in parallel).
	if _, ok := os.LookupEnv("OMS_METRICS_ADDR"); !ok {
		_ = os.Setenv("OMS_METRICS_ADDR", "127.0.0.1:0")
	}
	os.Exit(m.Run())
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve", "--dev", "--addr", addr, "--mail-outbox", t.TempDir(), "--fix-addr", "off")
	cmd.Env = append(os.Environ(), "OMSD_TEST_AS_MAIN=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/api/v1/util/health")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("omsd did not come up: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("omsd did not stop after SIGTERM:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
		t.Fatalf("no shutdown log line:\n%s", logs.String())
	}
	if _, err := http.Get("http://" + addr + "/api/v1/util/health"); err == nil {
		t.Fatal("still serving after exit")
	}
}
