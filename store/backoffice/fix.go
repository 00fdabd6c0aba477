package backoffice

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vero-oms/omsd/store"
)

// FIX sessions (store.FIXSessions) keep one hash per session,
// KeyFIXPrefix + the session's name, so every change of a session is a
// commit on one hash:
//
//	FieldFIXSeq          the sequence state (fixSeqRecord)
//	FieldFIXQueue        the report queue's ends (fixQueueRecord)
//	FIXSentPrefix+seq    a journaled message, its raw bytes as they are
//	FIXReportPrefix+pos  a queued report (fixReportRecord)
//
// Values are Go strings, which both backends keep byte for byte (Redis
// strings and Lua are binary safe), so a message's 0x01 separators and
// any other byte survive. Reports are JSON with the body in base64.
const (
	KeyFIXPrefix    = "fix:"
	FieldFIXSeq     = "seq"
	FieldFIXQueue   = "queue"
	FIXSentPrefix   = "sent:"
	FIXReportPrefix = "report:"
)

// fixReportBatch bounds the positions one read of FIXReports asks for, and
// the span of delivered positions SaveFIXSeq deletes one by one (beyond
// it, it deletes the report fields it finds).
const fixReportBatch = 1024

type fixSeqRecord struct {
	Day       string `json:"day"`
	NextIn    int    `json:"next_in"`
	NextOut   int    `json:"next_out"`
	Delivered int64  `json:"delivered"`
}

type fixQueueRecord struct {
	Queued  int64 `json:"queued"`  // the last position taken
	Through int64 `json:"through"` // the highest OutboxID queued
}

type fixReportRecord struct {
	OutboxID int64  `json:"outbox_id"`
	Body     []byte `json:"body"` // base64: JSON strings cannot hold arbitrary bytes
}

var _ store.FIXSessions = (*Records)(nil)

func fixHash(session string) string { return KeyFIXPrefix + session }

func fixSentField(seq int) string { return FIXSentPrefix + strconv.Itoa(seq) }

func fixReportField(pos int64) string { return FIXReportPrefix + idField(pos) }

// decodeFIXSeq reads a stored state; absent is the zero state.
func decodeFIXSeq(v Value) (store.FIXSeq, error) {
	if !v.OK {
		return store.FIXSeq{}, nil
	}
	return decode("fix sequence state", v.S, func(r fixSeqRecord) store.FIXSeq { return store.FIXSeq(r) })
}

// decodeFIXQueue reads the queue's ends; absent is an empty queue.
func decodeFIXQueue(v Value) (fixQueueRecord, error) {
	if !v.OK {
		return fixQueueRecord{}, nil
	}
	return decode("fix report queue", v.S, func(r fixQueueRecord) fixQueueRecord { return r })
}

// stepAside waits a little before a retry under contention, so the
// winner finishes; the first attempts go at once.
func stepAside(ctx context.Context, attempt int) error {
	if attempt <= 2 {
		return nil
	}
	d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-2, 4)))
	select {
	case <-ctx.Done():
		return fmt.Errorf("fix session: %w: %w", store.ErrUnavailable, ctx.Err())
	case <-time.After(d):
		return nil
	}
}

func (r *Records) FIXSeq(ctx context.Context, session string) (store.FIXSeq, error) {
	if err := store.ValidateKeyPart("fix session", session); err != nil {
		return store.FIXSeq{}, err
	}
	v, err := r.b.Get(ctx, Cell{fixHash(session), FieldFIXSeq})
	if err != nil {
		return store.FIXSeq{}, err
	}
	return decodeFIXSeq(v)
}

func (r *Records) FIXSent(ctx context.Context, session string, seq int) ([]byte, bool, error) {
	if err := store.ValidateKeyPart("fix session", session); err != nil {
		return nil, false, err
	}
	// Only the current day's journal is kept (SaveFIXSeq drops the old
	// day's), so the field is the answer.
	v, err := r.b.Get(ctx, Cell{fixHash(session), fixSentField(seq)})
	if err != nil || !v.OK {
		return nil, false, err
	}
	return []byte(v.S), true, nil
}

func (r *Records) SaveFIXSeq(ctx context.Context, session string, old, next store.FIXSeq, sent []store.FIXSent) error {
	if err := store.ValidateKeyPart("fix session", session); err != nil {
		return err
	}
	for _, m := range sent {
		if m.Seq <= 0 {
			return fmt.Errorf("fix session %q: journal seq %d: %w", session, m.Seq, store.ErrInvalid)
		}
	}
	// The commit checks the state read; a stale commit runs again, and the
	// fresh read then tells a real conflict from a value rewritten as is.
	for attempt := range MaxAttempts {
		if err := stepAside(ctx, attempt); err != nil {
			return err
		}
		var c Commit
		var err error
		if attempt == 0 {
			// The caller saved old itself: commit against its encoding
			// without reading it first (one round trip instead of two); a
			// stale check sends the next attempt through the read.
			c, err = r.fixSaveBlind(ctx, session, old, next, sent)
		} else {
			c, err = r.fixSaveCommit(ctx, session, old, next, sent)
		}
		if err != nil {
			return err
		}
		if _, err = r.b.Commit(ctx, c); !errors.Is(err, ErrStale) {
			return err
		}
	}
	return fmt.Errorf("fix session %q: still contended after %d attempts: %w", session, MaxAttempts, store.ErrUnavailable)
}

// fixSaveCommit reads the session's state and builds SaveFIXSeq's commit,
// or answers ErrConflict when the state is no longer old.
func (r *Records) fixSaveCommit(ctx context.Context, session string, old, next store.FIXSeq, sent []store.FIXSent) (Commit, error) {
	h := fixHash(session)
	v, err := r.b.Get(ctx, Cell{h, FieldFIXSeq})
	if err != nil {
		return Commit{}, err
	}
	cur, err := decodeFIXSeq(v)
	if err != nil {
		return Commit{}, err
	}
	if cur != old {
		return Commit{}, fmt.Errorf("fix session %q: state %+v, not %+v: %w", session, cur, old, store.ErrConflict)
	}
	return r.fixSaveFrom(ctx, session, v, old, next, sent)
}

// fixSaveBlind builds SaveFIXSeq's commit against old as SaveFIXSeq
// writes it (absent for the zero state).
func (r *Records) fixSaveBlind(ctx context.Context, session string, old, next store.FIXSeq, sent []store.FIXSent) (Commit, error) {
	var v Value
	if old != (store.FIXSeq{}) {
		s, err := encode(fixSeqRecord(old))
		if err != nil {
			return Commit{}, err
		}
		v = Value{S: s, OK: true}
	}
	return r.fixSaveFrom(ctx, session, v, old, next, sent)
}

// fixSaveFrom builds SaveFIXSeq's commit, checking that the state cell
// still holds v.
func (r *Records) fixSaveFrom(ctx context.Context, session string, v Value, old, next store.FIXSeq, sent []store.FIXSent) (Commit, error) {
	h := fixHash(session)
	enc, err := encode(fixSeqRecord(next))
	if err != nil {
		return Commit{}, err
	}
	c := Commit{Checks: []Check{{Cell: Cell{h, FieldFIXSeq}, Want: v}}}
	// Every commit that journals a message also advances NextOut, and
	// checks this cell: the fields read here stay as read until ours lands.
	var fields map[string]string
	if next.Day != old.Day || next.Delivered-old.Delivered > fixReportBatch {
		if fields, err = r.b.GetAll(ctx, h); err != nil {
			return Commit{}, err
		}
	}
	del := func(f string) { c.Writes = append(c.Writes, Write{Cell: Cell{h, f}, Delete: true}) }
	if next.Day != old.Day {
		for f := range fields {
			if strings.HasPrefix(f, FIXSentPrefix) {
				del(f) // the old day's journal, before the new day's lands
			}
		}
	}
	fixDeliveredDeletes(fields, old.Delivered, next.Delivered, del)
	c.Writes = append(c.Writes, Write{Cell: Cell{h, FieldFIXSeq}, Value: enc})
	for _, m := range sent {
		c.Writes = append(c.Writes, Write{Cell: Cell{h, fixSentField(m.Seq)}, Value: string(m.Raw)})
	}
	return c, nil
}

// fixDeliveredDeletes deletes the reports at positions in (from, to]: one
// by one for a short span, else those found in fields (the whole hash).
func fixDeliveredDeletes(fields map[string]string, from, to int64, del func(field string)) {
	if to <= from {
		return
	}
	if to-from <= fixReportBatch {
		for pos := from + 1; pos <= to; pos++ {
			del(fixReportField(pos))
		}
		return
	}
	for f := range fields {
		rest, ok := strings.CutPrefix(f, FIXReportPrefix)
		if !ok {
			continue
		}
		if pos, err := strconv.ParseInt(rest, 10, 64); err == nil && pos > from && pos <= to {
			del(f)
		}
	}
}

func (r *Records) QueueFIXReports(ctx context.Context, session string, reports []store.FIXReport) error {
	if err := store.ValidateKeyPart("fix session", session); err != nil {
		return err
	}
	if len(reports) == 0 {
		return nil
	}
	// Publishers race on the queue's ends: each commit checks them, and a
	// stale one reads them again and skips what the winner queued.
	for attempt := range MaxAttempts {
		if err := stepAside(ctx, attempt); err != nil {
			return err
		}
		c, err := fixQueueCommit(ctx, r.b, session, reports)
		if err != nil || len(c.Writes) == 0 {
			return err
		}
		if _, err = r.b.Commit(ctx, c); !errors.Is(err, ErrStale) {
			return err
		}
	}
	return fmt.Errorf("fix session %q: report queue still contended after %d attempts: %w", session, MaxAttempts, store.ErrUnavailable)
}

// fixQueueCommit builds the commit appending the reports above the highest
// OutboxID queued; no writes when there are none.
func fixQueueCommit(ctx context.Context, b Backend, session string, reports []store.FIXReport) (Commit, error) {
	h := fixHash(session)
	v, err := b.Get(ctx, Cell{h, FieldFIXQueue})
	if err != nil {
		return Commit{}, err
	}
	q, err := decodeFIXQueue(v)
	if err != nil {
		return Commit{}, err
	}
	c := Commit{Checks: []Check{{Cell: Cell{h, FieldFIXQueue}, Want: v}}}
	done := q.Through // entries queued before this call; one entry may make several reports
	for _, rep := range reports {
		if rep.OutboxID <= done || rep.OutboxID < q.Through {
			continue // queued already, by this caller's retry or another publisher
		}
		enc, err := encode(fixReportRecord(rep))
		if err != nil {
			return Commit{}, err
		}
		q.Queued++
		q.Through = rep.OutboxID
		c.Writes = append(c.Writes, Write{Cell: Cell{h, fixReportField(q.Queued)}, Value: enc})
	}
	if len(c.Writes) == 0 {
		return c, nil
	}
	enc, err := encode(q)
	if err != nil {
		return Commit{}, err
	}
	c.Writes = append(c.Writes, Write{Cell: Cell{h, FieldFIXQueue}, Value: enc})
	return c, nil
}

func (r *Records) FIXReports(ctx context.Context, session string, after int64, limit int) ([]store.FIXQueued, error) {
	if err := store.ValidateKeyPart("fix session", session); err != nil {
		return nil, err
	}
	h := fixHash(session)
	vs, err := r.b.GetMany(ctx, h, []string{FieldFIXSeq, FieldFIXQueue})
	if err != nil {
		return nil, err
	}
	st, err := decodeFIXSeq(vs[0])
	if err != nil {
		return nil, err
	}
	q, err := decodeFIXQueue(vs[1])
	if err != nil {
		return nil, err
	}
	// Delivered reports are gone: start after them, so a reader behind
	// still gets the next ones.
	after = max(after, st.Delivered)
	out := []store.FIXQueued{}
	for lo := after; lo < q.Queued && len(out) < limit; {
		hi := min(q.Queued, lo+int64(min(limit-len(out), fixReportBatch)))
		fields := make([]string, 0, hi-lo)
		for pos := lo + 1; pos <= hi; pos++ {
			fields = append(fields, fixReportField(pos))
		}
		page, err := r.b.GetMany(ctx, h, fields)
		if err != nil {
			return nil, err
		}
		for i, v := range page {
			if !v.OK {
				continue // delivered (a state saved with Delivered moved back)
			}
			rec, err := decode("fix report", v.S, func(r fixReportRecord) store.FIXReport { return store.FIXReport(r) })
			if err != nil {
				return nil, err
			}
			out = append(out, store.FIXQueued{Pos: lo + 1 + int64(i), FIXReport: rec})
		}
		lo = hi
	}
	return out, nil
}
