package storetest

import (
	"flag"
	"testing"

	"github.com/vero-oms/omsd/store/backoffice"
)

// Main runs a package's tests with every decoded-record memo hit checked
// against a fresh decoding of its text (backoffice.CheckMemoHits), but
// not its benchmarks, which the check would slow. A TestMain calls it:
// os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		backoffice.CheckMemoHits()
	}
	return m.Run()
}
