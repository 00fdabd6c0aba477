package fixacceptor

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// BenchmarkReportBodyRoundTrip reads back a queued ExecutionReport body, as a
// connection does for every report it delivers.
func BenchmarkReportBodyRoundTrip(b *testing.B) {
	o := store.Order{ID: 7, ClOrdID: "c1", AccountCode: "A", Symbol: "VN30F2612", Side: "S", Type: "LO", Qty: 10, Price: d("1350"),
		Status: store.OrderPartiallyFill, FilledQty: 6, FilledValue: d("8103"), UpdatedAt: time.Now()}
	body := encodeBody(execReport(o, 9, 0, execNew, nil))
	b.ReportAllocs()
	for b.Loop() {
		_ = decodeBody(body)
	}
}
