package fix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// wire turns a message written with '|' for SOH into its bytes.
func wire(s string) []byte { return []byte(strings.ReplaceAll(s, "|", "\x01")) }

// A published FIX 4.2 execution report (Wikipedia's "FIX protocol"
// example), with its BodyLength 178 and CheckSum 128, reads as written
// and encodes back to the same bytes.
func TestReadPublishedExample(t *testing.T) {
	raw := wire("8=FIX.4.2|9=178|35=8|49=PHLX|56=PERS|52=20071123-05:30:00.000|11=ATOMNOCCC9990900|20=3|150=E|39=E|55=MSFT|167=CS|54=1|38=15|40=2|44=15|58=PHLX EQUITY TESTING|59=0|47=C|32=0|31=0|151=15|14=0|6=0|10=128|")
	m, err := NewReader(bytes.NewReader(raw)).Read()
	if err != nil {
		t.Fatal(err)
	}
	if m.MsgType() != "8" || len(m) != 22 {
		t.Fatalf("read %d fields of type %q", len(m), m.MsgType())
	}
	if v, _ := m.Get(58); v != "PHLX EQUITY TESTING" {
		t.Fatalf("Text %q", v)
	}
	if got := Encode(m); !bytes.Equal(got, raw) {
		t.Fatalf("re-encoded:\n %q\nwant\n %q", got, raw)
	}
}

// Messages follow each other on one stream; a garbled one (bad checksum,
// wrong BodyLength, another BeginString, noise) is reported as
// ErrGarbled and skipped, and the next message still reads.
func TestReaderSkipsGarbledMessages(t *testing.T) {
	hb := func(seq string) []byte {
		return Encode(Message{{35, "0"}, {34, seq}, {49, "DEMOCLIENT"}, {52, "20261205-10:00:00.000"}, {56, "OMSD"}})
	}
	badSum := hb("2")
	copy(badSum[len(badSum)-4:], "000")
	// BodyLength one more than the body: the frame reads into the next bytes.
	longer := hb("3")
	n, _ := Message{{9, string(bytes.SplitN(bytes.SplitN(longer, []byte("\x019="), 2)[1], []byte{SOH}, 2)[0])}}.Int(9)
	longer = bytes.Replace(longer, []byte("\x019="+strconv.Itoa(n)+"\x01"), []byte("\x019="+strconv.Itoa(n+1)+"\x01"), 1)
	other := bytes.Replace(hb("4"), []byte("FIX.4.2"), []byte("FIX.4.4"), 1)
	var stream []byte
	for _, part := range [][]byte{hb("1"), badSum, longer, []byte("noise\x01"), other, hb("5")} {
		stream = append(stream, part...)
	}
	r := NewReader(bytes.NewReader(stream))
	var seqs []string
	garbledN := 0
	for {
		m, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrGarbled) {
			garbledN++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := m.Get(34)
		seqs = append(seqs, seq)
	}
	if strings.Join(seqs, ",") != "1,5" || garbledN < 3 {
		t.Fatalf("read %v with %d garbled; want 1 and 5 around the garbled ones", seqs, garbledN)
	}
}

// A framed message whose field is malformed is a session Reject with the
// FIX 4.2 reason; MsgType not third is garbled.
func TestMalformedFieldsAreRejects(t *testing.T) {
	frame := func(body string) []byte {
		b := wire(body)
		msg := append([]byte("8=FIX.4.2\x019="+strconv.Itoa(len(b))+"\x01"), b...)
		return append(msg, fmt.Sprintf("10=%03d\x01", checksum(msg))...)
	}
	for _, c := range []struct {
		body   string
		reason int
		refTag int
	}{
		{"35=0|34=2|49=|56=OMSD|", TagWithoutValue, 49},
		{"35=0|34=2|x=1|", InvalidTagNumber, 0},
		{"35=0|34=2|049=A|", InvalidTagNumber, 0},
		{"35=0|34=2|49A|", InvalidTagNumber, 0},
	} {
		_, err := NewReader(bytes.NewReader(frame(c.body))).Read()
		var re *RejectError
		if !errors.As(err, &re) || re.Reason != c.reason || re.RefTag != c.refTag {
			t.Errorf("%q: %v, want reason %d ref tag %d", c.body, err, c.reason, c.refTag)
		}
	}
	if _, err := NewReader(bytes.NewReader(frame("34=2|35=0|"))).Read(); !errors.Is(err, ErrGarbled) {
		t.Errorf("MsgType second: %v, want garbled", err)
	}
	m := Message{{35, "A"}, {34, "007"}, {108, "30"}}
	if _, err := m.Int(34); err == nil {
		t.Error("a leading zero is not a FIX int")
	}
	var re *RejectError
	if _, err := m.Int(98); !errors.As(err, &re) || re.Reason != RequiredTagMissing || re.RefTag != 98 {
		t.Errorf("missing tag: %v", err)
	}
	if n, err := m.Int(108); err != nil || n != 30 {
		t.Errorf("HeartBtInt: %d %v", n, err)
	}
}

// A BodyLength past MaxBodyLength is refused before anything is buffered.
func TestBodyLengthBounded(t *testing.T) {
	_, err := NewReader(strings.NewReader("8=FIX.4.2\x019=99999999\x0135=0\x01")).Read()
	if !errors.Is(err, ErrGarbled) {
		t.Fatalf("huge BodyLength: %v", err)
	}
	_, err = NewReader(strings.NewReader("8=FIX.4.2\x019=70000\x0135=0\x01")).Read()
	if !errors.Is(err, ErrGarbled) {
		t.Fatalf("BodyLength past the bound: %v", err)
	}
}

// FuzzRead: any bytes read without panic; a message that reads encodes
// back to bytes that read as the same message.
func FuzzRead(f *testing.F) {
	f.Add(Encode(Message{{35, "A"}, {34, "1"}, {49, "DEMOCLIENT"}, {52, "20261205-10:00:00"}, {56, "OMSD"}, {98, "0"}, {108, "30"}}))
	f.Add(wire("8=FIX.4.2|9=5|35=0|10=161|"))
	f.Add([]byte("8=FIX.4.2\x019=1\x01\x0110=000\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for range 8 {
			m, err := r.Read()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return
				}
				continue
			}
			again, err := NewReader(bytes.NewReader(Encode(m))).Read()
			if err != nil || len(again) != len(m) {
				t.Fatalf("%q read as %v, re-encoded it reads as %v (%v)", b, m, again, err)
			}
			for i := range m {
				if m[i] != again[i] {
					t.Fatalf("field %d: %v then %v", i, m[i], again[i])
				}
			}
		}
	})
}
