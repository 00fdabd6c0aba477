// Package fix is omsd's FIX 4.2 session layer (issue 17), starting with
// its wire format: messages of tag=value fields separated by SOH (0x01),
// framed by BeginString (8) and BodyLength (9) first and CheckSum (10)
// last (../shared/reference/fix/session.mdx). It knows nothing of orders;
// the acceptor built on it talks to server/trading as the REST handlers
// do.
package fix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// SOH separates fields.
const SOH = 0x01

// BeginString is the only FIX version the Vero OMS speaks.
const BeginString = "FIX.4.2"

// MaxBodyLength bounds a message's body: a peer cannot make omsd buffer
// more than this for one message (the largest documented message is far
// below it).
const MaxBodyLength = 64 << 10

// Standard header and trailer tags.
const (
	TagBeginString     = 8
	TagBodyLength      = 9
	TagCheckSum        = 10
	TagMsgSeqNum       = 34
	TagMsgType         = 35
	TagPossDupFlag     = 43
	TagSenderCompID    = 49
	TagSendingTime     = 52
	TagTargetCompID    = 56
	TagOrigSendingTime = 122
)

// Field is one tag=value pair.
type Field struct {
	Tag   int
	Value string
}

// Message is one FIX message: every field between BodyLength (9) and
// CheckSum (10), in wire order (MsgType first). BeginString, BodyLength
// and CheckSum are the frame's, written and checked by Encode and Reader.
type Message []Field

// Get returns the first value of tag.
func (m Message) Get(tag int) (string, bool) {
	for _, f := range m {
		if f.Tag == tag {
			return f.Value, true
		}
	}
	return "", false
}

// MsgType is the message's type (35).
func (m Message) MsgType() string {
	v, _ := m.Get(TagMsgType)
	return v
}

// Int reads tag as a non-negative integer: a *RejectError (reason
// IncorrectDataFormat, or RequiredTagMissing when absent) otherwise.
func (m Message) Int(tag int) (int, error) {
	v, ok := m.Get(tag)
	if !ok {
		return 0, &RejectError{Reason: RequiredTagMissing, RefTag: tag, Text: fmt.Sprintf("required tag %d missing", tag)}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (len(v) > 1 && v[0] == '0') {
		return 0, &RejectError{Reason: IncorrectDataFormat, RefTag: tag, Text: fmt.Sprintf("tag %d: %q is not a number", tag, v)}
	}
	return n, nil
}

// Encode writes m framed: BeginString, BodyLength, the fields, CheckSum.
func Encode(m Message) []byte {
	var body bytes.Buffer
	for _, f := range m {
		body.WriteString(strconv.Itoa(f.Tag))
		body.WriteByte('=')
		body.WriteString(f.Value)
		body.WriteByte(SOH)
	}
	var out bytes.Buffer
	out.Grow(body.Len() + 32)
	fmt.Fprintf(&out, "8=%s\x019=%d\x01", BeginString, body.Len())
	out.Write(body.Bytes())
	fmt.Fprintf(&out, "10=%03d\x01", checksum(out.Bytes()))
	return out.Bytes()
}

// checksum is the sum of the bytes modulo 256 (FIX CheckSum).
func checksum(b []byte) int {
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	return sum % 256
}

// ErrGarbled is a message that cannot be framed or fails its checksum: a
// FIX engine ignores it (it takes no sequence number) and, when it is
// the first message of a connection, closes the connection.
var ErrGarbled = errors.New("fix: garbled message")

// garbled wraps ErrGarbled with what was wrong.
func garbled(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrGarbled, fmt.Sprintf(format, args...))
}

// Reader reads framed messages from a stream.
type Reader struct {
	r *bufio.Reader
}

// NewReader reads messages from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 4096)} }

// Read returns the next message. A framing or checksum failure is
// ErrGarbled (the bytes read are skipped: the stream goes on at the next
// "8=" as FIX engines resynchronise); a framed message with a malformed
// field is a *RejectError with the message as far as it was read (its
// MsgSeqNum, when present, is the Reject's RefSeqNum); io.EOF ends the
// stream.
func (r *Reader) Read() (Message, error) {
	head, err := r.r.Peek(2)
	if err != nil {
		return nil, err
	}
	if string(head) != "8=" {
		r.skipToNextMessage()
		return nil, garbled("a message must start with BeginString (8)")
	}
	begin, err := r.field(TagBeginString, 32)
	if err != nil {
		return nil, err
	}
	if begin != BeginString {
		return nil, garbled("BeginString %q, want %s", begin, BeginString)
	}
	lengthText, err := r.field(TagBodyLength, 8)
	if err != nil {
		return nil, err
	}
	length, err := strconv.Atoi(lengthText)
	if err != nil || length <= 0 || length > MaxBodyLength {
		return nil, garbled("BodyLength %q: want 1..%d", lengthText, MaxBodyLength)
	}
	framed := make([]byte, 0, len(begin)+len(lengthText)+length+6)
	framed = fmt.Appendf(framed, "8=%s\x019=%s\x01", begin, lengthText)
	body := make([]byte, length)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return nil, unexpectedEOF(err)
	}
	framed = append(framed, body...)
	// A CheckSum is no secret (it detects corruption, not forgery): a
	// plain comparison.
	trailer, err := r.field(TagCheckSum, 3)
	if err != nil {
		return nil, err
	}
	if computed := fmt.Sprintf("%03d", checksum(framed)); trailer != computed {
		return nil, garbled("CheckSum %s, computed %s", trailer, computed)
	}
	if body[len(body)-1] != SOH {
		return nil, garbled("BodyLength %d does not end at a field's end", length)
	}
	return parseBody(body[:len(body)-1])
}

// field reads "tag=value<SOH>" for the expected tag, the value at most
// max bytes long.
func (r *Reader) field(tag, max int) (string, error) {
	prefix := strconv.Itoa(tag) + "="
	got, err := r.r.Peek(len(prefix))
	if err != nil {
		return "", unexpectedEOF(err)
	}
	if string(got) != prefix {
		r.skipToNextMessage()
		return "", garbled("want tag %d here, got %q", tag, got)
	}
	_, _ = r.r.Discard(len(prefix))
	var v []byte
	for len(v) <= max {
		c, err := r.r.ReadByte()
		if err != nil {
			return "", unexpectedEOF(err)
		}
		if c == SOH {
			return string(v), nil
		}
		v = append(v, c)
	}
	r.skipToNextMessage()
	return "", garbled("tag %d: value longer than %d bytes", tag, max)
}

// skipToNextMessage drops bytes up to the next "<SOH>8=" (a message's
// start) or what is buffered, so one garbled message costs no more.
func (r *Reader) skipToNextMessage() {
	for {
		b, err := r.r.Peek(r.r.Buffered())
		if err != nil || len(b) == 0 {
			if _, err := r.r.ReadByte(); err != nil {
				return
			}
			continue
		}
		if i := bytes.Index(b[1:], []byte("\x018=")); i >= 0 {
			_, _ = r.r.Discard(i + 2)
			return
		}
		_, _ = r.r.Discard(len(b))
		return
	}
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrGarbled, io.ErrUnexpectedEOF)
	}
	return err
}

// parseBody splits a framed body into fields and checks them: tags are
// positive numbers, values are not empty, MsgType (35) comes first.
func parseBody(body []byte) (Message, error) {
	var m Message
	for part := range bytes.SplitSeq(body, []byte{SOH}) {
		tagText, value, ok := bytes.Cut(part, []byte{'='})
		tag, err := strconv.Atoi(string(tagText))
		switch {
		case !ok || err != nil || tag <= 0 || tagText[0] == '0':
			return m, &RejectError{Reason: InvalidTagNumber, Text: fmt.Sprintf("field %q: not tag=value with a positive tag number", part)}
		case len(value) == 0:
			return m, &RejectError{Reason: TagWithoutValue, RefTag: tag, Text: fmt.Sprintf("tag %d specified without a value", tag)}
		}
		m = append(m, Field{Tag: tag, Value: string(value)})
	}
	if m[0].Tag != TagMsgType {
		// FIX: MsgType is the third field; a message without it there is garbled.
		return nil, garbled("MsgType (35) must follow BodyLength (9), got tag %d", m[0].Tag)
	}
	return m, nil
}
