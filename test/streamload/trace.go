package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/trace"
	"sync/atomic"
	"syscall"
	"time"
)

// stallTracer catches a burst of late reports in the act (-trace-dir):
// this process keeps Go's flight recorder on, and the first delivery of
// a latency run later than -trace-after (at most one every traceEvery)
// writes its window to the directory and sends omsd (-pid) SIGUSR1, which
// makes an omsd started with --trace-dir write its own. The two traces
// show which process held the reports, and why (docs/benchmarks.md,
// fifteenth session).
type stallTracer struct {
	fr    *trace.FlightRecorder
	dir   string
	pid   int
	after time.Duration
	last  atomic.Int64 // unix ms of the last trace
}

const traceEvery = 5 * time.Second

// newStallTracer returns nil when c.traceDir is empty.
func newStallTracer(c config) (*stallTracer, error) {
	if c.traceDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(c.traceDir, 0o700); err != nil {
		return nil, fmt.Errorf("-trace-dir: %w", err)
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 64 << 20})
	if err := fr.Start(); err != nil {
		return nil, fmt.Errorf("-trace-dir: %w", err)
	}
	return &stallTracer{fr: fr, dir: c.traceDir, pid: c.pid, after: c.traceAfter}, nil
}

// seen is told each first report's delay; it never blocks (the probe
// calls it under its lock).
func (s *stallTracer) seen(d time.Duration) {
	if s == nil || d <= s.after {
		return
	}
	now := time.Now().UnixMilli()
	last := s.last.Load()
	if now-last < traceEvery.Milliseconds() || !s.last.CompareAndSwap(last, now) {
		return
	}
	go s.write(d)
}

func (s *stallTracer) write(d time.Duration) {
	time.Sleep(300 * time.Millisecond) // the rest of the burst, inside the window
	if s.pid > 0 {
		_ = syscall.Kill(s.pid, syscall.SIGUSR1)
	}
	path := filepath.Join(s.dir, fmt.Sprintf("streamload-%s.trace", time.Now().UTC().Format("20060102T150405.000")))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = s.fr.WriteTo(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		progress("a report %.2f ms late; writing %s failed: %v", float64(d)/1e6, path, err)
		return
	}
	progress("a report %.2f ms late; wrote %s and signalled omsd (pid %d)", float64(d)/1e6, path, s.pid)
}
