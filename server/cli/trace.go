package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/trace"
	"syscall"
	"time"
)

// flightWindow is how much of the recent past a trace written on SIGUSR1
// covers: enough for a burst of late reports and what led up to it.
const flightWindow = 5 * time.Second

// startFlightRecorder keeps the last seconds of Go's execution trace in
// memory (runtime/trace's flight recorder) and writes them to a new file
// in dir on every SIGUSR1, until ctx ends. It is how the bursts of late
// deliveries were explained (docs/benchmarks.md, fifteenth session): a
// load generator that sees one signals omsd, and the trace shows what
// each goroutine and the collector did at that moment. "" disables it.
func startFlightRecorder(ctx context.Context, dir string, log *slog.Logger) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--trace-dir: %w", err)
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: flightWindow, MaxBytes: 64 << 20})
	if err := fr.Start(); err != nil {
		return fmt.Errorf("--trace-dir: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		defer fr.Stop()
		defer signal.Stop(sig)
		writeTraces(ctx, fr, dir, sig, log)
	}()
	log.Info("serve: flight recorder on; SIGUSR1 writes the last seconds of the runtime trace", "dir", dir)
	return nil
}

// writeTraces writes fr's window to a new file in dir on every value of
// sig until ctx ends.
func writeTraces(ctx context.Context, fr *trace.FlightRecorder, dir string, sig <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		path := filepath.Join(dir, fmt.Sprintf("omsd-%d-%s.trace", os.Getpid(), time.Now().UTC().Format("20060102T150405.000")))
		if err := writeTrace(fr, path); err != nil {
			log.Warn("serve: writing the runtime trace failed", "path", path, "err", err)
			continue
		}
		log.Info("serve: runtime trace written", "path", path)
	}
}

func writeTrace(fr *trace.FlightRecorder, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fr.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
