package fix

import (
	"bytes"
	"testing"
)

// A NewOrderSingle as a client sends it, and an ExecutionReport as omsd
// sends it: the two messages of the order path.
var (
	benchOrder = Message{{TagMsgType, "D"}, {TagMsgSeqNum, "1234"}, {TagSenderCompID, "DEMOCLIENT"}, {TagSendingTime, "20261210-03:00:00.000"},
		{TagTargetCompID, "OMSD"}, {1, "099C000001"}, {11, "ord-000001234"}, {21, "1"}, {38, "1"}, {40, "2"}, {44, "1350.0"},
		{54, "1"}, {55, "VN30F2612"}, {59, "0"}, {60, "20261210-03:00:00.000"}}
	benchReport = Message{{TagMsgType, "8"}, {TagMsgSeqNum, "5678"}, {TagSenderCompID, "OMSD"}, {TagSendingTime, "20261210-03:00:00.001"},
		{TagTargetCompID, "DEMOCLIENT"}, {37, "98765"}, {11, "ord-000001234"}, {17, "44321-0"}, {20, "0"}, {150, "0"}, {39, "0"},
		{1, "099C000001"}, {55, "VN30F2612"}, {54, "1"}, {38, "1"}, {40, "2"}, {59, "0"}, {44, "1350"}, {151, "1"}, {14, "0"}, {6, "0"},
		{60, "20261210-03:00:00.001"}}
)

// BenchmarkRead parses a framed NewOrderSingle (framing, BodyLength,
// CheckSum, fields).
func BenchmarkRead(b *testing.B) {
	raw := Encode(benchOrder)
	stream := bytes.Repeat(raw, 1024)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var r *Reader
	for i := 0; b.Loop(); i++ {
		if i%1024 == 0 {
			r = NewReader(bytes.NewReader(stream))
		}
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode frames an ExecutionReport.
func BenchmarkEncode(b *testing.B) {
	b.SetBytes(int64(len(Encode(benchReport))))
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(benchReport)
	}
}
