package memory_test

import (
	"testing"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/storetest"
)

// The latency suite the Redis store passes too.
func TestLatencyConformance(t *testing.T) {
	storetest.RunLatency(t, func(t *testing.T, c storetest.LatencyConfig) store.LatencyStore {
		return memory.NewLatency(memory.LatencyOptions{Clock: c.Clock, Retention: c.Retention, MaxRecords: c.MaxRecords})
	})
}
