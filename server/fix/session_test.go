package fix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// client builds what a FIX client sends: the header of DEMOCLIENT → OMSD.
type client struct{ seq int }

func (c *client) msg(msgType string, body ...Field) Message {
	c.seq++
	return c.at(c.seq, msgType, body...)
}

func (c *client) at(seq int, msgType string, body ...Field) Message {
	m := Message{{TagMsgType, msgType}, {TagMsgSeqNum, strconv.Itoa(seq)}, {TagSenderCompID, "DEMOCLIENT"},
		{TagSendingTime, "20261210-03:00:00.000"}, {TagTargetCompID, "OMSD"}}
	return append(m, body...)
}

func (c *client) logon(hb string, extra ...Field) Message {
	return c.msg(MsgLogon, append([]Field{{TagEncryptMethod, "0"}, {TagHeartBtInt, hb}}, extra...)...)
}

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func newTestSession(nextIn, nextOut int, j Journal) (*Session, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 12, 10, 3, 0, 0, 0, time.UTC)}
	return NewSession(Config{OurCompID: "OMSD", TheirCompID: "DEMOCLIENT"}, nextIn, nextOut, j, clk.now), clk
}

// types lists the sent messages' types with their sequence numbers.
func types(ms []Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MsgType()+"#"+value(m, TagMsgSeqNum))
	}
	return strings.Join(out, " ")
}

func TestLogonAccepted(t *testing.T) {
	s, _ := newTestSession(1, 1, nil)
	var c client
	r := s.Receive(c.logon("30"))
	if r.Close || types(r.Send) != "A#1" || !s.LoggedOn() || s.NextIn != 2 || s.NextOut != 2 {
		t.Fatalf("logon: %s close %v, next in %d out %d", types(r.Send), r.Close, s.NextIn, s.NextOut)
	}
	if hb, _ := r.Send[0].Get(TagHeartBtInt); hb != "30" || value(r.Send[0], TagSenderCompID) != "OMSD" || value(r.Send[0], TagTargetCompID) != "DEMOCLIENT" {
		t.Fatalf("logon reply %v", r.Send[0])
	}
	// An application message is handed on; a TestRequest is answered.
	if r := s.Receive(c.msg("D", Field{11, "ord-1"})); r.App.MsgType() != "D" || len(r.Send) != 0 {
		t.Fatalf("D: %+v", r)
	}
	if r := s.Receive(c.msg(MsgTestRequest, Field{TagTestReqID, "ping"})); types(r.Send) != "0#2" || value(r.Send[0], TagTestReqID) != "ping" {
		t.Fatalf("test request answered with %v", r.Send)
	}
	if r := s.Receive(c.msg(MsgLogout)); !r.Close || types(r.Send) != "5#3" {
		t.Fatalf("logout: %s close %v", types(r.Send), r.Close)
	}
}

// Logons that cannot be accepted end with a Logout saying why.
func TestLogonRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		m    func(c *client) Message
		text string
	}{
		{"not a logon first", func(c *client) Message { return c.msg(MsgHeartbeat) }, "first message must be a Logon"},
		{"heartbeat 15", func(c *client) Message { return c.logon("15") }, "greater than 15 and less than 100, got 15"},
		{"heartbeat 100", func(c *client) Message { return c.logon("100") }, "got 100"},
		{"no heartbeat", func(c *client) Message { return c.msg(MsgLogon, Field{TagEncryptMethod, "0"}) }, "HeartBtInt (108) is required"},
		{"encrypted", func(c *client) Message {
			return c.msg(MsgLogon, Field{TagEncryptMethod, "1"}, Field{TagHeartBtInt, "30"})
		}, "EncryptMethod"},
		{"another client", func(c *client) Message {
			m := c.logon("30")
			m[2].Value = "INTRUDER"
			return m
		}, "SenderCompID or TargetCompID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestSession(1, 1, nil)
			r := s.Receive(c.m(&client{}))
			if !r.Close || len(r.Send) != 1 || r.Send[0].MsgType() != MsgLogout || !strings.Contains(value(r.Send[0], TagText), c.text) || s.LoggedOn() {
				t.Fatalf("got %v close %v, want a Logout containing %q", r.Send, r.Close, c.text)
			}
		})
	}
}

// Relogon: below the expected sequence → Logout "MsgSeqNum too low,
// expecting X but received Y"; above it → accepted and the gap asked for;
// ResetSeqNumFlag=Y starts both directions at 1.
func TestRelogonSequences(t *testing.T) {
	s, _ := newTestSession(8, 12, nil)
	r := s.Receive((&client{seq: 4}).logon("30"))
	if !r.Close || value(r.Send[0], TagText) != "MsgSeqNum too low, expecting 8 but received 5" {
		t.Fatalf("too low: %v", r.Send)
	}
	s, _ = newTestSession(8, 12, nil)
	r = s.Receive((&client{seq: 10}).logon("30"))
	if r.Close || types(r.Send) != "A#12 2#13" || value(r.Send[1], TagBeginSeqNo) != "8" || value(r.Send[1], TagEndSeqNo) != "0" || s.NextIn != 8 {
		t.Fatalf("too high: %s, next in %d", types(r.Send), s.NextIn)
	}
	s, _ = newTestSession(8, 12, nil)
	r = s.Receive((&client{}).logon("30", Field{TagResetSeqNumFlag, "Y"}))
	if r.Close || types(r.Send) != "A#1" || value(r.Send[0], TagResetSeqNumFlag) != "Y" || s.NextIn != 2 {
		t.Fatalf("reset: %s, next in %d", types(r.Send), s.NextIn)
	}
}

// In session: a gap is asked for once and filled by the client's resend;
// a duplicate (PossDupFlag=Y) below the expected number is ignored; one
// without PossDupFlag ends the session; a gap fill moves the expected
// number on; a header without a required tag is a Reject.
func TestInboundSequence(t *testing.T) {
	s, _ := newTestSession(1, 1, nil)
	c := &client{}
	s.Receive(c.logon("30"))
	c.seq = 3 // 2 and 3 lost
	if r := s.Receive(c.msg("D")); types(r.Send) != "2#2" || r.App != nil {
		t.Fatalf("gap: %s app %v", types(r.Send), r.App)
	}
	if r := s.Receive(c.msg("D")); len(r.Send) != 0 || r.App != nil {
		t.Fatalf("the same gap is asked for once: %s", types(r.Send))
	}
	// The client fills 2..4 with a gap fill, then 5 arrives.
	if r := s.Receive(c.at(2, MsgSequenceReset, Field{TagPossDupFlag, "Y"}, Field{TagOrigSendingTime, "x"}, Field{TagGapFillFlag, "Y"}, Field{TagNewSeqNo, "5"})); len(r.Send) != 0 || s.NextIn != 5 {
		t.Fatalf("gap fill: %s next in %d", types(r.Send), s.NextIn)
	}
	c.seq = 4
	if r := s.Receive(c.msg("F")); r.App.MsgType() != "F" || s.NextIn != 6 {
		t.Fatalf("after the fill: %+v next in %d", r, s.NextIn)
	}
	if r := s.Receive(c.at(3, "D", Field{TagPossDupFlag, "Y"}, Field{TagOrigSendingTime, "x"})); len(r.Send) != 0 || r.App != nil || r.Close {
		t.Fatalf("a possible duplicate is ignored: %+v", r)
	}
	if r := s.Receive(c.at(2, MsgTestRequest, Field{TagPossDupFlag, "Y"})); types(r.Send) != "3#3" || value(r.Send[0], TagSessionRejectReason) != "1" || value(r.Send[0], TagRefTagID) != "122" {
		t.Fatalf("PossDupFlag without OrigSendingTime: %v", r.Send)
	}
	if r := s.Receive(c.at(3, "D")); !r.Close || value(r.Send[0], TagText) != "MsgSeqNum too low, expecting 6 but received 3" {
		t.Fatalf("too low in session: %v", r.Send)
	}
}

// journal keeps the application messages sent under some sequence numbers.
type journal map[int]Message

func (j journal) Sent(seq int) (Message, bool) { m, ok := j[seq]; return m, ok }

// A ResendRequest is answered with the kept application messages
// (PossDupFlag=Y, OrigSendingTime their first SendingTime) and one
// SequenceReset-GapFill per run of the others.
func TestResendRequest(t *testing.T) {
	j := journal{}
	s, clk := newTestSession(1, 1, j)
	c := &client{}
	s.Receive(c.logon("30")) // omsd sent 1 (Logon)
	for _, seq := range []int{2, 3, 5} {
		m := s.out("8", Field{37, fmt.Sprint("exec-", seq)})
		j[seq] = m
		if seq == 3 {
			s.out(MsgHeartbeat) // 4 is a session message
		}
	}
	clk.t = clk.t.Add(time.Minute)
	r := s.Receive(c.msg(MsgResendRequest, Field{TagBeginSeqNo, "1"}, Field{TagEndSeqNo, "0"}))
	if types(r.Send) != "4#1 8#2 8#3 4#4 8#5" {
		t.Fatalf("resend: %s", types(r.Send))
	}
	if fill := r.Send[0]; value(fill, TagGapFillFlag) != "Y" || value(fill, TagNewSeqNo) != "2" || value(fill, TagPossDupFlag) != "Y" {
		t.Fatalf("gap fill of the logon: %v", fill)
	}
	if fill := r.Send[3]; value(fill, TagNewSeqNo) != "5" {
		t.Fatalf("gap fill of the heartbeat: %v", fill)
	}
	again := r.Send[1]
	if value(again, TagPossDupFlag) != "Y" || value(again, TagOrigSendingTime) != "20261210-03:00:00.000" ||
		value(again, TagSendingTime) != "20261210-03:01:00.000" || value(again, 37) != "exec-2" {
		t.Fatalf("resent execution report: %v", again)
	}
	if s.NextOut != 6 {
		t.Fatalf("a resend takes no new sequence numbers: next out %d", s.NextOut)
	}
}

// Heartbeats: omsd sends one after an interval of its own silence, a
// TestRequest after an interval of the client's (once), and closes after
// two.
func TestHeartbeats(t *testing.T) {
	s, clk := newTestSession(1, 1, nil)
	c := &client{}
	s.Receive(c.logon("30"))
	clk.t = clk.t.Add(29 * time.Second)
	if r := s.Tick(); len(r.Send) != 0 {
		t.Fatalf("before the interval: %s", types(r.Send))
	}
	clk.t = clk.t.Add(time.Second)
	// The TestRequest is traffic too: no Heartbeat besides it.
	if r := s.Tick(); types(r.Send) != "1#2" {
		t.Fatalf("after 30 s of silence both ways: %s", types(r.Send))
	}
	clk.t = clk.t.Add(10 * time.Second)
	if r := s.Tick(); len(r.Send) != 0 || r.Close {
		t.Fatalf("the test request is sent once: %s", types(r.Send))
	}
	s.Receive(c.msg(MsgHeartbeat, Field{TagTestReqID, "TEST-2"}))
	clk.t = clk.t.Add(20 * time.Second)
	if r := s.Tick(); types(r.Send) != "0#3" {
		t.Fatalf("30 s after omsd's last message: %s", types(r.Send))
	}
	clk.t = clk.t.Add(39 * time.Second)
	if r := s.Tick(); r.Close {
		t.Fatal("closed within two intervals of the last message")
	}
	clk.t = clk.t.Add(time.Second)
	if r := s.Tick(); !r.Close {
		t.Fatal("not closed after two silent intervals")
	}
}

// A message refused for its header still takes its number, so the next
// one is in sequence; Refuse (a malformed or unsupported message) too.
func TestRejectedMessagesTakeTheirNumber(t *testing.T) {
	s, _ := newTestSession(1, 1, nil)
	c := &client{}
	s.Receive(c.logon("30"))
	c.seq++
	noTime := Message{{TagMsgType, MsgHeartbeat}, {TagMsgSeqNum, strconv.Itoa(c.seq)}, {TagSenderCompID, "DEMOCLIENT"}, {TagTargetCompID, "OMSD"}}
	if r := s.Receive(noTime); types(r.Send) != "3#2" || value(r.Send[0], TagRefTagID) != "52" || s.NextIn != 3 {
		t.Fatalf("missing SendingTime: %s next in %d", types(r.Send), s.NextIn)
	}
	m := c.msg("Q")
	if r := s.Refuse(m, &RejectError{Reason: InvalidMsgType, RefTag: TagMsgType, Text: "unsupported"}); types(r.Send) != "3#3" || s.NextIn != 4 {
		t.Fatalf("refused: %s next in %d", types(r.Send), s.NextIn)
	}
	// Refusing a message already taken (an application message Receive
	// passed up) does not count it twice.
	r := s.Receive(c.msg("Q"))
	s.Refuse(r.App, &RejectError{Reason: InvalidMsgType, Text: "unsupported"})
	if s.NextIn != 5 {
		t.Fatalf("next in %d after a refused application message, want 5", s.NextIn)
	}
	if r := s.Receive(c.msg(MsgTestRequest, Field{TagTestReqID, "t"})); types(r.Send) != "0#5" {
		t.Fatalf("in sequence after the refusals: %s", types(r.Send))
	}
	// A TestRequest without its TestReqID is refused, not answered with
	// an empty one (found by FuzzSession).
	if r := s.Receive(c.msg(MsgTestRequest)); types(r.Send) != "3#6" || value(r.Send[0], TagRefTagID) != "112" || s.NextIn != 7 {
		t.Fatalf("TestRequest without TestReqID: %v next in %d", r.Send, s.NextIn)
	}
}

// FuzzSession feeds whatever the reader makes of arbitrary bytes to a
// session, as the acceptor does: no panic, omsd's own messages numbered
// without a gap or a repeat (resends aside), the expected inbound number
// never going back once logged on, and every message it sends readable.
func FuzzSession(f *testing.F) {
	c := &client{}
	var seed []byte
	for _, m := range []Message{c.logon("30"), c.msg(MsgTestRequest, Field{TagTestReqID, "x"}), c.msg("D"),
		c.at(9, MsgHeartbeat), c.msg(MsgResendRequest, Field{TagBeginSeqNo, "1"}, Field{TagEndSeqNo, "0"}),
		c.msg(MsgSequenceReset, Field{TagNewSeqNo, "20"}), c.msg(MsgLogout)} {
		seed = append(seed, Encode(m)...)
	}
	f.Add(seed)
	f.Add(Encode(c.logon("30", Field{TagResetSeqNumFlag, "Y"})))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, clk := newTestSession(1, 1, journal{})
		r := NewReader(bytes.NewReader(b))
		lastOut, lastIn := 0, 0
		check := func(res Result) {
			for _, m := range res.Send {
				if _, err := NewReader(bytes.NewReader(Encode(m))).Read(); err != nil {
					t.Fatalf("omsd sent an unreadable message %v: %v", m, err)
				}
				seq, _ := m.Int(TagMsgSeqNum)
				if value(m, TagPossDupFlag) == "Y" {
					continue
				}
				if seq != lastOut+1 && (m.MsgType() != MsgLogon || seq != 1) {
					t.Fatalf("omsd sent %d after %d", seq, lastOut)
				}
				lastOut = seq
			}
			if s.LoggedOn() && s.NextIn < lastIn {
				t.Fatalf("expected inbound went back from %d to %d", lastIn, s.NextIn)
			}
			lastIn = s.NextIn
		}
		for range 32 {
			m, err := r.Read()
			var rej *RejectError
			switch {
			case errors.Is(err, io.EOF):
				return
			case errors.As(err, &rej):
				check(s.Refuse(m, rej))
			case err != nil:
				continue
			default:
				check(s.Receive(m))
			}
			clk.t = clk.t.Add(7 * time.Second)
			check(s.Tick())
		}
	})
}
