package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A delivery later than -trace-after writes one trace; one not later,
// or a second within traceEvery, writes none.
func TestStallTracerWritesOneTracePerStall(t *testing.T) {
	var off *stallTracer
	off.seen(time.Hour) // off: nothing, no panic
	dir := filepath.Join(t.TempDir(), "traces")
	s, err := newStallTracer(config{traceDir: dir, traceAfter: 25 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.fr.Stop()
	s.seen(25 * time.Millisecond) // not later than -trace-after
	s.seen(30 * time.Millisecond)
	s.seen(90 * time.Millisecond) // the same burst
	var files []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(files) == 0; time.Sleep(50 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "streamload-*.trace"))
	}
	time.Sleep(500 * time.Millisecond) // a second trace, if one were written
	files, _ = filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("traces: %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil || !bytes.HasPrefix(b, []byte("go 1.")) {
		t.Fatalf("%s: %d bytes, %v", files[0], len(b), err)
	}
}
