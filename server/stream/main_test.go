package stream

import (
	"flag"
	"os"
	"testing"

	"github.com/vero-oms/omsd/store/backoffice"
)

// Every decoded-record memo hit in these tests is checked against a
// fresh decoding of its text (not in benchmarks, which it would slow).
func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.bench").Value.String() == "" {
		backoffice.CheckMemoHits()
	}
	os.Exit(m.Run())
}
