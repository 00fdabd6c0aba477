package fix

import (
	"fmt"
	"strconv"
	"time"
)

// logon handles the first message of a connection: it must be a Logon
// with this session's CompIDs, no encryption and a heartbeat interval in
// bounds, else the connection ends with a Logout saying why. Sequence
// numbers (session.mdx "Logon and reconnect behavior"): ResetSeqNumFlag=Y
// starts both directions at 1; a MsgSeqNum below the expected one ends
// with "MsgSeqNum too low, expecting X but received Y"; above it the logon
// is accepted and the gap asked for.
func (s *Session) logon(r *Result, m Message) {
	if m.MsgType() != MsgLogon {
		s.logout(r, "the first message must be a Logon (35=A)")
		return
	}
	if e := s.checkHeader(m); e != nil {
		s.logout(r, e.Text)
		return
	}
	hb, err := m.Int(TagHeartBtInt)
	switch {
	case err != nil:
		s.logout(r, "HeartBtInt (108) is required")
		return
	case hb <= MinHeartBtInt || hb >= MaxHeartBtInt:
		s.logout(r, fmt.Sprintf("HeartBtInt (108) must be greater than %d and less than %d, got %d", MinHeartBtInt, MaxHeartBtInt, hb))
		return
	case value(m, TagEncryptMethod) != "0":
		s.logout(r, "EncryptMethod (98) must be 0")
		return
	}
	reset := value(m, TagResetSeqNumFlag) == "Y"
	if reset {
		s.NextIn, s.NextOut = 1, 1
	}
	seq, _ := m.Int(TagMsgSeqNum)
	if seq < s.NextIn {
		s.logout(r, fmt.Sprintf("MsgSeqNum too low, expecting %d but received %d", s.NextIn, seq))
		return
	}
	s.loggedOn, s.heartBt = true, time.Duration(hb)*time.Second
	reply := []Field{{TagEncryptMethod, "0"}, {TagHeartBtInt, strconv.Itoa(hb)}}
	if reset {
		reply = append(reply, Field{TagResetSeqNumFlag, "Y"})
	}
	r.Send = append(r.Send, s.out(MsgLogon, reply...))
	if seq > s.NextIn {
		r.Send = append(r.Send, s.out(MsgResendRequest, Field{TagBeginSeqNo, strconv.Itoa(s.NextIn)}, Field{TagEndSeqNo, "0"}))
		s.resendAsked = true
		return
	}
	s.NextIn++
}

// resend answers a client's ResendRequest: application messages the
// journal kept go again with PossDupFlag=Y and OrigSendingTime, every run
// of other sequence numbers is one SequenceReset-GapFill.
func (s *Session) resend(r *Result, m Message) {
	begin, err1 := m.Int(TagBeginSeqNo)
	end, err2 := m.Int(TagEndSeqNo)
	if err1 != nil || err2 != nil || begin < 1 {
		s.reject(r, m, &RejectError{Reason: ValueIncorrect, RefTag: TagBeginSeqNo, Text: "BeginSeqNo (7) and EndSeqNo (16) must be numbers, BeginSeqNo at least 1"})
		return
	}
	last := s.NextOut - 1
	if end == 0 || end > last {
		end = last
	}
	gapFrom := 0
	flush := func(next int) {
		if gapFrom > 0 {
			r.Send = append(r.Send, s.stamped(gapFrom, MsgSequenceReset, Field{TagGapFillFlag, "Y"}, Field{TagNewSeqNo, strconv.Itoa(next)}))
			gapFrom = 0
		}
	}
	for seq := begin; seq <= end; seq++ {
		orig, ok := Message(nil), false
		if s.journal != nil {
			orig, ok = s.journal.Sent(seq)
		}
		if !ok {
			if gapFrom == 0 {
				gapFrom = seq
			}
			continue
		}
		flush(seq)
		r.Send = append(r.Send, possDup(orig, s.now().UTC().Format(TimeFormat)))
	}
	flush(end + 1)
}

// stamped is a message sent again under an old sequence number (a gap
// fill): PossDupFlag=Y, OrigSendingTime now.
func (s *Session) stamped(seq int, msgType string, body ...Field) Message {
	now := s.now().UTC().Format(TimeFormat)
	m := Message{{TagMsgType, msgType}, {TagMsgSeqNum, strconv.Itoa(seq)}, {TagPossDupFlag, "Y"},
		{TagSenderCompID, s.cfg.OurCompID}, {TagSendingTime, now}, {TagTargetCompID, s.cfg.TheirCompID}, {TagOrigSendingTime, now}}
	return append(m, body...)
}

// possDup is a journaled message as resent at now: its own sequence
// number and body, PossDupFlag=Y, SendingTime now and OrigSendingTime its
// first SendingTime.
func possDup(orig Message, now string) Message {
	out := Message{}
	for _, f := range orig {
		switch f.Tag {
		case TagPossDupFlag, TagOrigSendingTime:
		case TagMsgSeqNum:
			out = append(out, f, Field{TagPossDupFlag, "Y"})
		case TagSendingTime:
			out = append(out, Field{TagSendingTime, now}, Field{TagOrigSendingTime, f.Value})
		default:
			out = append(out, f)
		}
	}
	return out
}

// Tick runs the heartbeat rules: a Heartbeat when omsd has sent nothing
// for one interval, a TestRequest when the client has sent nothing for
// one interval (once), and the connection closed after two silent
// intervals.
func (s *Session) Tick() Result {
	var r Result
	if !s.loggedOn {
		return r
	}
	now := s.now()
	switch idle := now.Sub(s.lastIn); {
	case idle >= 2*s.heartBt:
		r.Close = true
		return r
	case idle >= s.heartBt && !s.testReqSent:
		r.Send = append(r.Send, s.out(MsgTestRequest, Field{TagTestReqID, "TEST-" + strconv.Itoa(s.NextOut)}))
		s.testReqSent = true
	}
	if now.Sub(s.lastOut) >= s.heartBt {
		r.Send = append(r.Send, s.out(MsgHeartbeat))
	}
	return r
}
