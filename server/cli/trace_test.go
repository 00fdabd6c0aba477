package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/trace"
	"syscall"
	"testing"
	"time"
)

// Each signal writes one file holding the recorder's window, a Go
// execution trace (its header names the format); nothing is written
// without one.
func TestFlightRecorderWritesATracePerSignal(t *testing.T) {
	dir := t.TempDir()
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: time.Second})
	if err := fr.Start(); err != nil {
		t.Fatal(err)
	}
	defer fr.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeTraces(ctx, fr, dir, sig, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("written before any signal: %v", files)
	}
	for range 2 {
		time.Sleep(5 * time.Millisecond) // distinct file names (ms)
		sig <- os.Interrupt              // any value: the channel stands for SIGUSR1
	}
	cancel()
	<-done
	files, _ := filepath.Glob(filepath.Join(dir, "omsd-*.trace"))
	if len(files) != 2 {
		t.Fatalf("files after two signals: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.HasPrefix(b, []byte("go 1.")) || !bytes.Contains(b[:16], []byte(" trace")) {
			t.Errorf("%s: %d bytes, header %q, %v", f, len(b), b[:min(16, len(b))], err)
		}
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", f, fi.Mode())
		}
	}
}

func TestFlightRecorderOffWithoutDir(t *testing.T) {
	if err := startFlightRecorder(context.Background(), "", slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if trace.IsEnabled() {
		t.Error("tracing is on without --trace-dir")
	}
}

// The wiring serve uses: a real SIGUSR1 to this process writes a trace.
func TestFlightRecorderOnSIGUSR1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces") // made by startFlightRecorder
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { // the recorder stops after ctx, asynchronously
		cancel()
		for i := 0; trace.IsEnabled() && i < 500; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	})
	if err := startFlightRecorder(ctx, dir, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if files, _ := filepath.Glob(filepath.Join(dir, "omsd-*.trace")); len(files) == 1 {
			if fi, err := os.Stat(files[0]); err == nil && fi.Size() > 0 {
				return
			}
		}
	}
	t.Fatal("no trace written within 10 s of SIGUSR1")
}
