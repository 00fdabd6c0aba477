package fix

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The session state machine of one FIX connection, acceptor side
// (../shared/reference/fix/session.mdx): logon, sequence numbers in both
// directions, heartbeats and test requests, resend requests, sequence
// resets and logout. It does no I/O: Receive and Tick return what to send
// and whether to close the connection, so it is tested without sockets
// and the connection loop around it stays small.

// Message types of the session layer.
const (
	MsgHeartbeat     = "0"
	MsgTestRequest   = "1"
	MsgResendRequest = "2"
	MsgReject        = "3"
	MsgSequenceReset = "4"
	MsgLogout        = "5"
	MsgLogon         = "A"
)

// Session-layer body tags.
const (
	TagBeginSeqNo          = 7
	TagEndSeqNo            = 16
	TagNewSeqNo            = 36
	TagRefSeqNum           = 45
	TagText                = 58
	TagEncryptMethod       = 98
	TagHeartBtInt          = 108
	TagTestReqID           = 112
	TagGapFillFlag         = 123
	TagResetSeqNumFlag     = 141
	TagRefTagID            = 371
	TagRefMsgType          = 372
	TagSessionRejectReason = 373
)

// HeartBtInt (108) must be greater than MinHeartBtInt and less than
// MaxHeartBtInt seconds (session.mdx, "Heartbeat rules").
const (
	MinHeartBtInt = 15
	MaxHeartBtInt = 100
)

// TimeFormat is UTCTimestamp with milliseconds.
const TimeFormat = "20060102-15:04:05.000"

// Config names the two sides of a session.
type Config struct {
	// OurCompID is omsd's CompID (the client's TargetCompID); TheirCompID
	// the client's SenderCompID.
	OurCompID, TheirCompID string
}

// Journal is what the session sent: a ResendRequest is answered from it.
// Sent returns the application message sent under seq (found false for
// a session message or one not kept: those are gap-filled).
type Journal interface {
	Sent(seq int) (Message, bool)
}

// Session is one FIX session's state. NextIn is the sequence number
// expected from the client, NextOut the next one omsd sends; a new
// session starts both at 1, a relogon continues them.
type Session struct {
	cfg     Config
	journal Journal
	now     func() time.Time

	NextIn, NextOut int
	loggedOn        bool
	heartBt         time.Duration
	lastIn, lastOut time.Time
	testReqSent     bool
	resendAsked     bool // a ResendRequest for the current gap is out
}

// NewSession starts a session's state at the given sequence numbers (1, 1
// for a new day); journal may be nil (everything is gap-filled).
func NewSession(cfg Config, nextIn, nextOut int, journal Journal, now func() time.Time) *Session {
	if now == nil {
		now = time.Now
	}
	return &Session{cfg: cfg, journal: journal, now: now, NextIn: max(nextIn, 1), NextOut: max(nextOut, 1)}
}

// LoggedOn reports whether the logon was accepted.
func (s *Session) LoggedOn() bool { return s.loggedOn }

// Result is what handling one event produced: the messages to send, in
// order, an application message for the order layer, and whether to close
// the connection after sending.
type Result struct {
	Send  []Message
	App   Message
	Close bool
}

// out stamps a message with the standard header and the next outbound
// sequence number.
func (s *Session) out(msgType string, body ...Field) Message {
	m := Message{{TagMsgType, msgType}, {TagMsgSeqNum, strconv.Itoa(s.NextOut)},
		{TagSenderCompID, s.cfg.OurCompID}, {TagSendingTime, s.now().UTC().Format(TimeFormat)}, {TagTargetCompID, s.cfg.TheirCompID}}
	s.NextOut++
	s.lastOut = s.now()
	return append(m, body...)
}

func (s *Session) logout(r *Result, text string) {
	r.Send = append(r.Send, s.out(MsgLogout, Field{TagText, text}))
	r.Close = true
}

func (s *Session) reject(r *Result, m Message, e *RejectError) {
	// RefSeqNum is required: 0 when the message had no number to cite.
	ref := "0"
	if seq, err := m.Int(TagMsgSeqNum); err == nil {
		ref = strconv.Itoa(seq)
	}
	body := []Field{{TagRefSeqNum, ref}}
	if t := m.MsgType(); t != "" {
		body = append(body, Field{TagRefMsgType, t})
	}
	body = append(body, Field{TagSessionRejectReason, strconv.Itoa(e.Reason)})
	if e.RefTag > 0 {
		body = append(body, Field{TagRefTagID, strconv.Itoa(e.RefTag)})
	}
	r.Send = append(r.Send, s.out(MsgReject, append(body, Field{TagText, e.Text})...))
}

// asReject is err as the session Reject it describes.
func asReject(err error) *RejectError {
	var e *RejectError
	if errors.As(err, &e) {
		return e
	}
	return &RejectError{Reason: ValueIncorrect, Text: err.Error()}
}

func value(m Message, tag int) string {
	v, _ := m.Get(tag)
	return v
}

// Receive handles one message from the client.
func (s *Session) Receive(m Message) Result {
	var r Result
	s.lastIn, s.testReqSent = s.now(), false
	if !s.loggedOn {
		s.logon(&r, m)
		return r
	}
	if e := s.checkHeader(m); e != nil {
		// A rejected message still takes its number (FIX: a Reject ends
		// its processing), so the next one is not seen as a gap.
		if seq, err := m.Int(TagMsgSeqNum); err == nil && seq == s.NextIn {
			s.NextIn++
		}
		s.reject(&r, m, e)
		if e.Reason == CompIDProblem {
			s.logout(&r, e.Text)
		}
		return r
	}
	seq, _ := m.Int(TagMsgSeqNum)
	if m.MsgType() == MsgSequenceReset && value(m, TagGapFillFlag) != "Y" {
		s.sequenceReset(&r, m) // a reset ignores the sequence number
		return r
	}
	if !s.inSequence(&r, m, seq) {
		return r
	}
	s.NextIn++
	s.dispatch(&r, m)
	return r
}

// inSequence checks an established session's inbound sequence number:
// too low without PossDupFlag ends the session; too low with it is a
// duplicate, ignored; too high asks for the gap once and waits.
func (s *Session) inSequence(r *Result, m Message, seq int) bool {
	switch {
	case seq < s.NextIn && value(m, TagPossDupFlag) == "Y":
		return false
	case seq < s.NextIn:
		s.logout(r, fmt.Sprintf("MsgSeqNum too low, expecting %d but received %d", s.NextIn, seq))
		return false
	case seq > s.NextIn:
		if !s.resendAsked {
			r.Send = append(r.Send, s.out(MsgResendRequest, Field{TagBeginSeqNo, strconv.Itoa(s.NextIn)}, Field{TagEndSeqNo, "0"}))
			s.resendAsked = true
		}
		return false
	}
	s.resendAsked = false
	return true
}

// checkHeader checks the header fields every message must carry.
func (s *Session) checkHeader(m Message) *RejectError {
	if _, err := m.Int(TagMsgSeqNum); err != nil {
		return asReject(err)
	}
	for _, tag := range []int{TagSenderCompID, TagTargetCompID, TagSendingTime} {
		if _, ok := m.Get(tag); !ok {
			return &RejectError{Reason: RequiredTagMissing, RefTag: tag, Text: fmt.Sprintf("required tag %d missing", tag)}
		}
	}
	if value(m, TagSenderCompID) != s.cfg.TheirCompID || value(m, TagTargetCompID) != s.cfg.OurCompID {
		return &RejectError{Reason: CompIDProblem, RefTag: TagSenderCompID, Text: "SenderCompID or TargetCompID is not this session's"}
	}
	if value(m, TagPossDupFlag) == "Y" {
		if _, ok := m.Get(TagOrigSendingTime); !ok {
			return &RejectError{Reason: RequiredTagMissing, RefTag: TagOrigSendingTime, Text: "OrigSendingTime (122) is required with PossDupFlag=Y"}
		}
	}
	return nil
}

// dispatch handles an in-sequence message of an established session.
func (s *Session) dispatch(r *Result, m Message) {
	switch m.MsgType() {
	case MsgHeartbeat:
	case MsgTestRequest:
		id, ok := m.Get(TagTestReqID)
		if !ok {
			s.reject(r, m, &RejectError{Reason: RequiredTagMissing, RefTag: TagTestReqID, Text: "TestReqID (112) is required"})
			return
		}
		r.Send = append(r.Send, s.out(MsgHeartbeat, Field{TagTestReqID, id}))
	case MsgResendRequest:
		s.resend(r, m)
	case MsgSequenceReset:
		s.sequenceReset(r, m)
	case MsgLogout:
		s.logout(r, "logout acknowledged")
	case MsgLogon:
		s.reject(r, m, &RejectError{Reason: ValueIncorrect, RefTag: TagMsgType, Text: "already logged on"})
	case MsgReject:
	default:
		r.App = m
	}
}

// sequenceReset moves the expected inbound number forward (never back).
func (s *Session) sequenceReset(r *Result, m Message) {
	n, err := m.Int(TagNewSeqNo)
	if err != nil {
		s.reject(r, m, asReject(err))
		return
	}
	if n < s.NextIn {
		s.reject(r, m, &RejectError{Reason: ValueIncorrect, RefTag: TagNewSeqNo,
			Text: fmt.Sprintf("NewSeqNo %d is below the expected %d", n, s.NextIn)})
		return
	}
	s.NextIn, s.resendAsked = n, false
}

// Send stamps an application message (an ExecutionReport, an
// OrderCancelReject) with the header and the next outbound number.
func (s *Session) Send(msgType string, body ...Field) Message { return s.out(msgType, body...) }

// Refuse answers a message the layer above (or the reader) refuses with
// a session Reject (35=3). The message's sequence number is consumed when
// it is the expected one, as for any message processed.
func (s *Session) Refuse(m Message, e *RejectError) Result {
	var r Result
	if !s.loggedOn {
		s.logout(&r, "the first message must be a well-formed Logon (35=A)")
		return r
	}
	s.lastIn, s.testReqSent = s.now(), false
	if seq, err := m.Int(TagMsgSeqNum); err == nil && seq == s.NextIn {
		s.NextIn++
	}
	s.reject(&r, m, e)
	return r
}

// Logout ends the session from omsd's side with text.
func (s *Session) Logout(text string) Result {
	var r Result
	s.logout(&r, text)
	return r
}
