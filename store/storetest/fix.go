package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vero-oms/omsd/store"
)

// ---- FIX sessions ----

const fixSession = "DEMOCLIENT>OMSD"

// fixMsg is a message as written to the wire: SOH separators, and bytes
// JSON or a text encoding could get wrong.
func fixMsg(seq int) []byte {
	m := fmt.Appendf(nil, "8=FIX.4.4\x019=42\x0135=8\x0134=%d\x01", seq)
	return append(m, 0x00, 0xff, 0xfe, '"', '\\', '\n', 0x01, '1', '0', '=', '0', '0', '0', 0x01)
}

// fixBody is a report body for OutboxID id.
func fixBody(id int64) []byte {
	return fmt.Appendf(nil, "35=8\x0111=C%d\x01\x00\xff58=Zoë 日本\x01", id)
}

func fixReports(ids ...int64) []store.FIXReport {
	out := make([]store.FIXReport, len(ids))
	for i, id := range ids {
		out[i] = store.FIXReport{OutboxID: id, Body: fixBody(id)}
	}
	return out
}

func (su suite) fixSessions(t *testing.T) {
	su.test(t, "Unknown", fixUnknown)
	su.test(t, "SaveAndRead", fixSaveAndRead)
	su.test(t, "StaleOld", fixStaleOld)
	su.test(t, "Journal", fixJournal)
	su.test(t, "DayChange", fixDayChange)
	su.test(t, "Queue", fixQueue)
	su.test(t, "ReportsPaging", fixReportsPaging)
	su.test(t, "Delivered", fixDelivered)
	su.test(t, "Independent", fixIndependent)
	su.test(t, "SaveRace", fixSaveRace)
	su.test(t, "QueueRace", fixQueueRace)
	su.test(t, "CanceledContext", fixCanceled)
}

func wantFIXSeq(t *testing.T, s store.Store, session string, want store.FIXSeq) {
	t.Helper()
	got, err := s.FIXSeq(t.Context(), session)
	must(t, err)
	if got != want {
		t.Errorf("FIXSeq(%q) = %+v, want %+v", session, got, want)
	}
}

// wantSent asserts the journal holds msg under seq (absent when msg is nil).
func wantSent(t *testing.T, s store.Store, session string, seq int, msg []byte) {
	t.Helper()
	got, ok, err := s.FIXSent(t.Context(), session, seq)
	must(t, err)
	switch {
	case msg == nil && ok:
		t.Errorf("FIXSent(%q, %d) = %q, want none", session, seq, got)
	case msg != nil && !ok:
		t.Errorf("FIXSent(%q, %d): none, want %q", session, seq, msg)
	case msg != nil && !bytes.Equal(got, msg):
		t.Errorf("FIXSent(%q, %d) = %q, want %q", session, seq, got, msg)
	}
}

func fixReportsAfter(t *testing.T, s store.Store, session string, after int64, limit int) []store.FIXQueued {
	t.Helper()
	qs, err := s.FIXReports(t.Context(), session, after, limit)
	must(t, err)
	return qs
}

// wantQueued asserts qs are the reports of ids, in order, at strictly
// increasing positions, each with its body; returns their positions.
func wantQueued(t *testing.T, what string, qs []store.FIXQueued, ids ...int64) []int64 {
	t.Helper()
	got := make([]int64, len(qs))
	pos := make([]int64, len(qs))
	for i, q := range qs {
		got[i], pos[i] = q.OutboxID, q.Pos
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("%s: OutboxIDs %v, want %v", what, got, ids)
		return pos
	}
	for i, q := range qs {
		if q.Pos <= 0 || (i > 0 && q.Pos <= qs[i-1].Pos) {
			t.Errorf("%s: positions %v, want positive and increasing", what, pos)
		}
		if !bytes.Equal(q.Body, fixBody(q.OutboxID)) {
			t.Errorf("%s: report %d body %q, want %q", what, q.OutboxID, q.Body, fixBody(q.OutboxID))
		}
	}
	return pos
}

// A session never saved has the zero state, no journal and no reports.
func fixUnknown(t *testing.T, s store.Store) {
	wantFIXSeq(t, s, "NOBODY>OMSD", store.FIXSeq{})
	wantSent(t, s, "NOBODY>OMSD", 1, nil)
	if qs := fixReportsAfter(t, s, "NOBODY>OMSD", 0, 10); len(qs) != 0 {
		t.Errorf("FIXReports of an unknown session: %+v", qs)
	}
}

// A saved state reads back as saved; the next save starts from it.
func fixSaveAndRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := store.FIXSeq{Day: "2027-01-11", NextIn: 2, NextOut: 2}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, first, nil))
	wantFIXSeq(t, s, fixSession, first)
	second := store.FIXSeq{Day: "2027-01-11", NextIn: 1 << 30, NextOut: 7, Delivered: 0}
	must(t, s.SaveFIXSeq(ctx, fixSession, first, second, nil))
	wantFIXSeq(t, s, fixSession, second)
	// Saving the state it holds is no change, and no conflict.
	must(t, s.SaveFIXSeq(ctx, fixSession, second, second, nil))
	wantFIXSeq(t, s, fixSession, second)
}

// A save from a state no longer stored writes nothing.
func fixStaleOld(t *testing.T, s store.Store) {
	ctx := t.Context()
	cur := store.FIXSeq{Day: "2027-01-11", NextIn: 5, NextOut: 3}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, cur,
		[]store.FIXSent{{Seq: 1, Raw: fixMsg(1)}, {Seq: 2, Raw: fixMsg(2)}}))
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(7)))
	for _, stale := range []store.FIXSeq{{}, {Day: "2027-01-11", NextIn: 4, NextOut: 3}, {Day: "2027-01-10", NextIn: 5, NextOut: 3}} {
		what := fmt.Sprintf("SaveFIXSeq from %+v", stale)
		next := store.FIXSeq{Day: "2027-01-12", NextIn: 9, NextOut: 9, Delivered: 1}
		wantErr(t, what, s.SaveFIXSeq(ctx, fixSession, stale, next, []store.FIXSent{{Seq: 3, Raw: []byte("x")}, {Seq: 1, Raw: []byte("y")}}), store.ErrConflict)
		wantFIXSeq(t, s, fixSession, cur)
		wantSent(t, s, fixSession, 1, fixMsg(1))
		wantSent(t, s, fixSession, 2, fixMsg(2))
		wantSent(t, s, fixSession, 3, nil)
		wantQueued(t, what+": reports", fixReportsAfter(t, s, fixSession, 0, 100), 7)
	}
}

// Journaled messages come back byte for byte; other numbers are absent.
func fixJournal(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := "2027-01-11"
	a := store.FIXSeq{Day: day, NextIn: 2, NextOut: 3}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, a,
		[]store.FIXSent{{Seq: 1, Raw: fixMsg(1)}, {Seq: 2, Raw: fixMsg(2)}}))
	b := store.FIXSeq{Day: day, NextIn: 3, NextOut: 4}
	must(t, s.SaveFIXSeq(ctx, fixSession, a, b, []store.FIXSent{{Seq: 3, Raw: fixMsg(3)}}))
	for seq := 1; seq <= 3; seq++ {
		wantSent(t, s, fixSession, seq, fixMsg(seq))
	}
	for _, seq := range []int{0, 4, -1, 1 << 30} {
		wantSent(t, s, fixSession, seq, nil)
	}
	// A message resent under its number replaces the journaled one.
	c := store.FIXSeq{Day: day, NextIn: 3, NextOut: 4}
	must(t, s.SaveFIXSeq(ctx, fixSession, b, c, []store.FIXSent{{Seq: 2, Raw: []byte("8=FIX.4.4\x0143=Y\x01")}}))
	wantSent(t, s, fixSession, 2, []byte("8=FIX.4.4\x0143=Y\x01"))
}

// A new session day drops the old day's journal; the new day's entries
// saved with the change are kept, even under the same numbers.
func fixDayChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1 := store.FIXSeq{Day: "2027-01-11", NextIn: 3, NextOut: 4}
	var sent []store.FIXSent
	for seq := 1; seq <= 3; seq++ {
		sent = append(sent, store.FIXSent{Seq: seq, Raw: fixMsg(seq)})
	}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, d1, sent))
	d2 := store.FIXSeq{Day: "2027-01-12", NextIn: 1, NextOut: 2}
	logon := []byte("8=FIX.4.4\x0135=A\x0134=1\x01")
	must(t, s.SaveFIXSeq(ctx, fixSession, d1, d2, []store.FIXSent{{Seq: 1, Raw: logon}}))
	wantFIXSeq(t, s, fixSession, d2)
	wantSent(t, s, fixSession, 1, logon)
	wantSent(t, s, fixSession, 2, nil)
	wantSent(t, s, fixSession, 3, nil)
	// A day change with nothing sent leaves no journal at all.
	d3 := store.FIXSeq{Day: "2027-01-13"}
	must(t, s.SaveFIXSeq(ctx, fixSession, d2, d3, nil))
	wantSent(t, s, fixSession, 1, nil)
}

// Reports queue in order, once per OutboxID, at increasing positions.
func fixQueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(3, 5, 9)))
	pos := wantQueued(t, "first batch", fixReportsAfter(t, s, fixSession, 0, 100), 3, 5, 9)
	// A retried batch queues nothing twice.
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(3, 5, 9)))
	wantQueued(t, "retried batch", fixReportsAfter(t, s, fixSession, 0, 100), 3, 5, 9)
	// Only the IDs above the highest queued go on: 4 and 9 are skipped,
	// and so is 10 after 12 in the same batch.
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(4, 9, 11, 12, 10, 20)))
	all := wantQueued(t, "overlapping batch", fixReportsAfter(t, s, fixSession, 0, 100), 3, 5, 9, 11, 12, 20)
	if len(pos) == 3 && len(all) == 6 && fmt.Sprint(all[:3]) != fmt.Sprint(pos) {
		t.Errorf("positions moved: %v, then %v", pos, all)
	}
	must(t, s.QueueFIXReports(ctx, fixSession, nil))
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(1, 2, 20)))
	wantQueued(t, "nothing new", fixReportsAfter(t, s, fixSession, 0, 100), 3, 5, 9, 11, 12, 20)
	// One entry's several reports share its ID: all are queued, once.
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(30, 30, 31)))
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(30, 30, 31)))
	wantQueued(t, "reports sharing an entry", fixReportsAfter(t, s, fixSession, 0, 100), 3, 5, 9, 11, 12, 20, 30, 30, 31)
}

// FIXReports pages by position.
func fixReportsPaging(t *testing.T, s store.Store) {
	ids := []int64{10, 20, 30, 40, 50, 60, 70}
	must(t, s.QueueFIXReports(t.Context(), fixSession, fixReports(ids...)))
	pos := wantQueued(t, "all", fixReportsAfter(t, s, fixSession, 0, 100), ids...)
	if len(pos) != len(ids) {
		t.FailNow()
	}
	for _, c := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 3, ids[:3]}, {pos[2], 3, ids[3:6]}, {pos[5], 3, ids[6:]}, {pos[6], 3, nil},
		{pos[6] + 100, 3, nil}, {0, 0, nil}, {0, -1, nil}, {pos[0], 1, ids[1:2]},
	} {
		what := fmt.Sprintf("FIXReports(%d, %d)", c.after, c.limit)
		qs := fixReportsAfter(t, s, fixSession, c.after, c.limit)
		if qs == nil {
			t.Errorf("%s: nil, want an empty slice", what)
		}
		wantQueued(t, what, qs, c.want...)
	}
}

// A state saved with Delivered removes the reports up to it.
func fixDelivered(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(1, 2, 3, 4, 5)))
	pos := wantQueued(t, "queued", fixReportsAfter(t, s, fixSession, 0, 100), 1, 2, 3, 4, 5)
	if len(pos) != 5 {
		t.FailNow()
	}
	day := "2027-01-11"
	a := store.FIXSeq{Day: day, NextIn: 1, NextOut: 3, Delivered: pos[1]}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, a,
		[]store.FIXSent{{Seq: 1, Raw: fixMsg(1)}, {Seq: 2, Raw: fixMsg(2)}}))
	wantQueued(t, "after delivering two, from 0", fixReportsAfter(t, s, fixSession, 0, 100), 3, 4, 5)
	wantQueued(t, "after delivering two, from 0, limit 1", fixReportsAfter(t, s, fixSession, 0, 1), 3)
	wantQueued(t, "after delivering two, from the first", fixReportsAfter(t, s, fixSession, pos[0], 2), 3, 4)
	// New reports follow the undelivered ones; positions never repeat.
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(6)))
	more := wantQueued(t, "after one more", fixReportsAfter(t, s, fixSession, 0, 100), 3, 4, 5, 6)
	if len(more) == 4 && more[3] <= pos[4] {
		t.Errorf("position of a new report %d, not above %d", more[3], pos[4])
	}
	// A day change keeps the undelivered reports.
	b := store.FIXSeq{Day: "2027-01-12", NextIn: 1, NextOut: 2, Delivered: pos[3]}
	must(t, s.SaveFIXSeq(ctx, fixSession, a, b, nil))
	wantQueued(t, "after the day change", fixReportsAfter(t, s, fixSession, 0, 100), 5, 6)
	if len(more) == 4 {
		c := b
		c.Delivered = more[3]
		must(t, s.SaveFIXSeq(ctx, fixSession, b, c, nil))
		wantQueued(t, "all delivered", fixReportsAfter(t, s, fixSession, 0, 100))
	}
}

// Two sessions share nothing: state, journal and queue.
func fixIndependent(t *testing.T, s store.Store) {
	ctx := t.Context()
	other := "OTHER>OMSD"
	a := store.FIXSeq{Day: "2027-01-11", NextIn: 4, NextOut: 2}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, a, []store.FIXSent{{Seq: 1, Raw: fixMsg(1)}}))
	must(t, s.QueueFIXReports(ctx, fixSession, fixReports(5, 6)))
	wantFIXSeq(t, s, other, store.FIXSeq{})
	wantSent(t, s, other, 1, nil)
	wantQueued(t, "other's queue", fixReportsAfter(t, s, other, 0, 100))

	// The other session queues the same OutboxIDs and keeps its own state.
	must(t, s.QueueFIXReports(ctx, other, fixReports(5, 6, 7)))
	wantQueued(t, "other's queue after queuing", fixReportsAfter(t, s, other, 0, 100), 5, 6, 7)
	b := store.FIXSeq{Day: "2027-01-12", NextIn: 1, NextOut: 1}
	must(t, s.SaveFIXSeq(ctx, other, store.FIXSeq{}, b, nil))
	wantFIXSeq(t, s, fixSession, a)
	wantSent(t, s, fixSession, 1, fixMsg(1))
	wantQueued(t, "first session's queue", fixReportsAfter(t, s, fixSession, 0, 100), 5, 6)
}

// Racing saves from one state: one wins, the others conflict, and the
// state and journal are the winner's. Several rounds, each from the state
// the last winner left, so a lost check shows.
func fixSaveRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := store.FIXSeq{Day: "2027-01-11", NextIn: 3, NextOut: 3}
	must(t, s.SaveFIXSeq(ctx, fixSession, store.FIXSeq{}, old, nil))
	const racers, rounds = 16, 8
	for round := range rounds {
		errs := race(racers, func(i int) error {
			next := store.FIXSeq{Day: old.Day, NextIn: 100*round + i, NextOut: old.NextOut + 1}
			return s.SaveFIXSeq(ctx, fixSession, old, next, []store.FIXSent{{Seq: old.NextOut, Raw: fixMsg(100*round + i)}})
		})
		w := oneWinner(t, errs, store.ErrConflict)
		if t.Failed() {
			return // the state is no longer known
		}
		won := store.FIXSeq{Day: old.Day, NextIn: 100*round + w, NextOut: old.NextOut + 1}
		wantFIXSeq(t, s, fixSession, won)
		wantSent(t, s, fixSession, old.NextOut, fixMsg(100*round+w))
		old = won
	}
}

// Publishers racing with overlapping batches queue each OutboxID once, in
// order.
func fixQueueRace(t *testing.T, s store.Store) {
	const racers, batches, per = 8, 50, 4
	errs := race(racers, func(i int) error {
		// Every racer publishes the windows ending at per, 2*per, ...; racer
		// i's reach i%4 IDs back into the window before. A window starts at
		// most one past the one before, so whatever a racer skips is queued
		// already and every ID 1..batches*per is queued.
		for b := range batches {
			var ids []int64
			for id := max(1, int64(b*per+1-i%4)); id <= int64((b+1)*per); id++ {
				ids = append(ids, id)
			}
			if err := s.QueueFIXReports(t.Context(), fixSession, fixReports(ids...)); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	qs := fixReportsAfter(t, s, fixSession, 0, 1<<14)
	want := make([]int64, batches*per)
	for i := range want {
		want[i] = int64(i + 1)
	}
	wantQueued(t, "after the race", qs, want...)
}

// A caller whose context has ended gets a backend error that says so.
func fixCanceled(t *testing.T, s store.Store) {
	a := store.FIXSeq{Day: "2027-01-11", NextIn: 2, NextOut: 2}
	must(t, s.SaveFIXSeq(t.Context(), fixSession, store.FIXSeq{}, a, []store.FIXSent{{Seq: 1, Raw: fixMsg(1)}}))
	must(t, s.QueueFIXReports(t.Context(), fixSession, fixReports(1)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	canceled := func(what string, err error) {
		t.Helper()
		wantBackendErr(t, what, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v does not wrap context.Canceled", what, err)
		}
	}
	_, err := s.FIXSeq(ctx, fixSession)
	canceled("FIXSeq", err)
	_, _, err = s.FIXSent(ctx, fixSession, 1)
	canceled("FIXSent", err)
	_, err = s.FIXReports(ctx, fixSession, 0, 10)
	canceled("FIXReports", err)
	canceled("SaveFIXSeq", s.SaveFIXSeq(ctx, fixSession, a, store.FIXSeq{Day: "2027-01-12"}, nil))
	canceled("QueueFIXReports", s.QueueFIXReports(ctx, fixSession, fixReports(2)))
	wantFIXSeq(t, s, fixSession, a)
	wantQueued(t, "after the canceled calls", fixReportsAfter(t, s, fixSession, 0, 10), 1)
}
