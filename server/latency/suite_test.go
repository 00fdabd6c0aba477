package latency_test

import (
	"testing"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/latency/latencytest"
)

// The conformance suite every latency.Store passes (the Redis store runs
// it in store/redis).
func TestMemoryLatencyStoreSuite(t *testing.T) {
	latencytest.Run(t, func(t *testing.T, c latencytest.Config) latency.Store {
		return latency.NewMemory(latency.MemoryOptions{Clock: c.Clock, Retention: c.Retention, MaxRecords: c.MaxRecords})
	})
}
