package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// ---- reference data and firm traders ----

// refRacers is how many callers race for one value.
const refRacers = 16

func newRefValue(kind, value, by string, at time.Time) store.ReferenceValue {
	return store.ReferenceValue{Kind: kind, Value: value, CreatedBy: by, CreatedAt: at}
}

func newFirmTrader(firm, trader, by string, at time.Time) store.FirmTrader {
	return store.FirmTrader{FirmID: firm, TraderID: trader, CreatedBy: by, CreatedAt: at}
}

func normRefValue(v store.ReferenceValue) store.ReferenceValue {
	v.CreatedAt = normTime(v.CreatedAt)
	return v
}

func normFirmTrader(f store.FirmTrader) store.FirmTrader {
	f.CreatedAt = normTime(f.CreatedAt)
	return f
}

func sameRefValues(t *testing.T, what string, got, want []store.ReferenceValue) {
	t.Helper()
	g, w := make([]store.ReferenceValue, len(got)), make([]store.ReferenceValue, len(want))
	for i := range got {
		g[i] = normRefValue(got[i])
	}
	for i := range want {
		w[i] = normRefValue(want[i])
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

func sameFirmTraders(t *testing.T, what string, got, want []store.FirmTrader) {
	t.Helper()
	g, w := make([]store.FirmTrader, len(got)), make([]store.FirmTrader, len(want))
	for i := range got {
		g[i] = normFirmTrader(got[i])
	}
	for i := range want {
		w[i] = normFirmTrader(want[i])
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

// putRef puts v and asserts it was new: the record comes back as given and
// the audit entry as given with an ID.
func putRef(t *testing.T, s store.Store, v store.ReferenceValue, a store.AuditEntry) store.AuditEntry {
	t.Helper()
	got, written, err := s.PutReferenceValue(t.Context(), v, a)
	must(t, err)
	sameRefValues(t, "PutReferenceValue", []store.ReferenceValue{got}, []store.ReferenceValue{v})
	wantWritten(t, "PutReferenceValue", written, a)
	return written
}

func putTrader(t *testing.T, s store.Store, f store.FirmTrader, a store.AuditEntry) store.AuditEntry {
	t.Helper()
	got, written, err := s.PutFirmTrader(t.Context(), f, a)
	must(t, err)
	sameFirmTraders(t, "PutFirmTrader", []store.FirmTrader{got}, []store.FirmTrader{f})
	wantWritten(t, "PutFirmTrader", written, a)
	return written
}

func (su suite) reference(t *testing.T) {
	su.test(t, "UpsertIsIdempotent", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		first := newRefValue(store.RefCompID, "VOS", "maker@example.com", now.Add(-time.Hour))
		a1 := putRef(t, s, first, newAudit("maker@example.com", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))

		again := newRefValue(store.RefCompID, "VOS", "admin@example.com", now)
		got, written, err := s.PutReferenceValue(ctx, again, newAudit("admin@example.com", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
		must(t, err)
		sameRefValues(t, "repeated put", []store.ReferenceValue{got}, []store.ReferenceValue{first})
		if !reflect.DeepEqual(written, store.AuditEntry{}) {
			t.Errorf("repeated put wrote audit entry %+v, want none", written)
		}
		wantAudit(t, s, store.AuditFilter{}, a1)

		for kind, want := range map[string]bool{store.RefCompID: true, store.RefSenderSubID: false} {
			has, err := s.HasReferenceValue(ctx, kind, "VOS")
			must(t, err)
			if has != want {
				t.Errorf("HasReferenceValue(%s, VOS) = %v, want %v", kind, has, want)
			}
		}
		has, err := s.HasReferenceValue(ctx, store.RefCompID, "vos")
		must(t, err)
		if has {
			t.Error("HasReferenceValue is case-insensitive")
		}
	})

	su.test(t, "SortedByKind", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		var comp []store.ReferenceValue
		for i, v := range []string{"b", "a b", "VOS", "é", "a", "00991"} {
			rv := newRefValue(store.RefCompID, v, "maker@example.com", now.Add(time.Duration(i)*time.Millisecond))
			putRef(t, s, rv, newAudit("maker@example.com", "REFERENCE_ADDED", "reference", "comp_id:"+v, now))
			comp = append(comp, rv)
		}
		sub := newRefValue(store.RefSenderSubID, "00991", "checker@example.com", now)
		putRef(t, s, sub, newAudit("checker@example.com", "REFERENCE_ADDED", "reference", "sender_sub_id:00991", now))

		got, err := s.ReferenceValues(ctx, store.RefCompID)
		must(t, err)
		order := []int{5, 2, 4, 1, 0, 3} // 00991, VOS, a, a b, b, é in byte order
		want := make([]store.ReferenceValue, len(order))
		for i, j := range order {
			want[i] = comp[j]
		}
		sameRefValues(t, "comp_id values", got, want)
		got, err = s.ReferenceValues(ctx, store.RefSenderSubID)
		must(t, err)
		sameRefValues(t, "sender_sub_id values", got, []store.ReferenceValue{sub})
		got, err = s.ReferenceValues(ctx, "no_such_kind")
		must(t, err)
		if len(got) != 0 {
			t.Errorf("unknown kind has %d values", len(got))
		}
	})

	su.test(t, "Delete", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		del := newAudit("maker@example.com", "REFERENCE_REMOVED", "reference", "comp_id:VOS", now)
		_, err := s.DeleteReferenceValue(ctx, store.RefCompID, "VOS", del)
		wantErr(t, "delete absent", err, store.ErrNotFound)
		wantAudit(t, s, store.AuditFilter{})

		added := putRef(t, s, newRefValue(store.RefCompID, "VOS", "maker@example.com", now), newAudit("maker@example.com", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
		// Same value, other kind: not what is being deleted.
		_, err = s.DeleteReferenceValue(ctx, store.RefSenderSubID, "VOS", del)
		wantErr(t, "delete from the other kind", err, store.ErrNotFound)
		removed, err := s.DeleteReferenceValue(ctx, store.RefCompID, "VOS", del)
		must(t, err)
		wantWritten(t, "DeleteReferenceValue", removed, del)
		has, err := s.HasReferenceValue(ctx, store.RefCompID, "VOS")
		must(t, err)
		if has {
			t.Error("value still there after delete")
		}
		_, err = s.DeleteReferenceValue(ctx, store.RefCompID, "VOS", del)
		wantErr(t, "delete again", err, store.ErrNotFound)
		wantAudit(t, s, store.AuditFilter{}, removed, added)

		// A deleted value can be added again, as new.
		putRef(t, s, newRefValue(store.RefCompID, "VOS", "admin@example.com", now.Add(time.Second)), newAudit("admin@example.com", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
	})

	su.test(t, "RoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		odd := []string{`"quoted" 'single'`, `back\slash /slash`, "Zoë 日本 🚀", "</script>&<>", " padded ", "tab\tnew\nline", "{bo}:ref:comp_id", "*?[glob]"}
		var want []store.ReferenceValue
		var traders []store.FirmTrader
		for i, v := range odd {
			rv := newRefValue(store.RefSenderSubID, v, fmt.Sprintf("Zoë+%d@exämple.com", i), now.Add(-time.Duration(i)*time.Hour-7*time.Millisecond))
			putRef(t, s, rv, newAudit(rv.CreatedBy, "REFERENCE_ADDED", "reference", "sender_sub_id:"+v, now))
			want = append(want, rv)
			ft := newFirmTrader(v, v+"-trader", rv.CreatedBy, rv.CreatedAt)
			putTrader(t, s, ft, newAudit(rv.CreatedBy, "FIRM_TRADER_ADDED", "firm:trader", v, now))
			traders = append(traders, ft)
			has, err := s.HasReferenceValue(ctx, store.RefSenderSubID, v)
			must(t, err)
			if !has {
				t.Errorf("HasReferenceValue(%q) = false", v)
			}
			got, err := s.FirmTraders(ctx, v)
			must(t, err)
			sameFirmTraders(t, fmt.Sprintf("FirmTraders(%q)", v), got, []store.FirmTrader{ft})
		}
		sortRefValues(want)
		got, err := s.ReferenceValues(ctx, store.RefSenderSubID)
		must(t, err)
		sameRefValues(t, "ReferenceValues", got, want)
		store.SortFirmTraders(traders)
		all, err := s.FirmTraders(ctx, "")
		must(t, err)
		sameFirmTraders(t, "FirmTraders", all, traders)
	})

	su.test(t, "Invalid", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ok := newAudit("maker@example.com", "REFERENCE_ADDED", "reference", "x", now)
		noActor, noAction, badDetail, arrayDetail := ok, ok, ok, ok
		noActor.Actor, noAction.Action = "", ""
		badDetail.Detail, arrayDetail.Detail = json.RawMessage(`{"a":`), json.RawMessage(`[1]`)
		for name, err := range map[string]error{
			"unknown kind":        second(s.PutReferenceValue(ctx, newRefValue("COMP_ID", "VOS", "m", now), ok)),
			"empty value":         second(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "", "m", now), ok)),
			"no actor":            second(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "VOS", "m", now), noActor)),
			"no action":           second(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "VOS", "m", now), noAction)),
			"broken detail":       second(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "VOS", "m", now), badDetail)),
			"array detail":        second(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "VOS", "m", now), arrayDetail)),
			"delete unknown kind": func() error { _, err := s.DeleteReferenceValue(ctx, "nope", "VOS", ok); return err }(),
			"empty firm":          second(s.PutFirmTrader(ctx, newFirmTrader("", "t", "m", now), ok)),
			"empty trader":        second(s.PutFirmTrader(ctx, newFirmTrader("f", "", "m", now), ok)),
			"NUL in firm":         second(s.PutFirmTrader(ctx, newFirmTrader("f\x00g", "t", "m", now), ok)),
			"NUL in trader":       second(s.PutFirmTrader(ctx, newFirmTrader("f", "t\x00", "m", now), ok)),
			"trader no actor":     second(s.PutFirmTrader(ctx, newFirmTrader("f", "t", "m", now), noActor)),
			"delete NUL":          func() error { _, err := s.DeleteFirmTrader(ctx, "f\x00", "t", ok); return err }(),
		} {
			wantErr(t, name, err, store.ErrInvalid)
		}
		wantAudit(t, s, store.AuditFilter{})
		for _, kind := range store.ReferenceKinds {
			vs, err := s.ReferenceValues(ctx, kind)
			must(t, err)
			if len(vs) != 0 {
				t.Errorf("%s has %d values after invalid puts", kind, len(vs))
			}
		}
		fs, err := s.FirmTraders(ctx, "")
		must(t, err)
		if len(fs) != 0 {
			t.Errorf("%d firm traders after invalid puts", len(fs))
		}
	})

	su.test(t, "FirmTraders", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		var want []store.FirmTrader
		// "01" is a prefix of "011": the firm filter must not mix them.
		for i, p := range [][2]string{{"011", "00112"}, {"01", "0011"}, {"011", "00111"}, {"002", "x"}, {"011", "0"}} {
			f := newFirmTrader(p[0], p[1], "maker@example.com", now.Add(time.Duration(i)*time.Millisecond))
			putTrader(t, s, f, newAudit("maker@example.com", "FIRM_TRADER_ADDED", "firm:trader", p[0]+":"+p[1], now))
			want = append(want, f)
		}
		got, err := s.FirmTraders(ctx, "")
		must(t, err)
		sameFirmTraders(t, "all", got, []store.FirmTrader{want[3], want[1], want[4], want[2], want[0]})
		got, err = s.FirmTraders(ctx, "011")
		must(t, err)
		sameFirmTraders(t, "firm 011", got, []store.FirmTrader{want[4], want[2], want[0]})
		got, err = s.FirmTraders(ctx, "01")
		must(t, err)
		sameFirmTraders(t, "firm 01", got, []store.FirmTrader{want[1]})
		got, err = s.FirmTraders(ctx, "999")
		must(t, err)
		if len(got) != 0 {
			t.Errorf("unknown firm has %d traders", len(got))
		}

		// Upsert: the first record stays, nothing is audited.
		again, written, err := s.PutFirmTrader(ctx, newFirmTrader("011", "00111", "admin@example.com", now.Add(time.Hour)), newAudit("admin@example.com", "FIRM_TRADER_ADDED", "firm:trader", "011:00111", now))
		must(t, err)
		sameFirmTraders(t, "repeated put", []store.FirmTrader{again}, []store.FirmTrader{want[2]})
		if written.ID != 0 {
			t.Errorf("repeated put wrote audit entry %d", written.ID)
		}
		entries, err := s.ListAudit(ctx, store.AuditFilter{})
		must(t, err)
		if len(entries) != len(want) {
			t.Errorf("%d audit entries, want one per new mapping (%d)", len(entries), len(want))
		}

		del := newAudit("maker@example.com", "FIRM_TRADER_REMOVED", "firm:trader", "011:00111", now)
		_, err = s.DeleteFirmTrader(ctx, "01", "00111", del)
		wantErr(t, "delete a pair that mixes firms", err, store.ErrNotFound)
		removed, err := s.DeleteFirmTrader(ctx, "011", "00111", del)
		must(t, err)
		wantWritten(t, "DeleteFirmTrader", removed, del)
		_, err = s.DeleteFirmTrader(ctx, "011", "00111", del)
		wantErr(t, "delete again", err, store.ErrNotFound)
		got, err = s.FirmTraders(ctx, "011")
		must(t, err)
		sameFirmTraders(t, "firm 011 after delete", got, []store.FirmTrader{want[4], want[0]})
		wantAuditCount(t, s, store.AuditFilter{}, len(want)+1)
	})

	su.test(t, "PutRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		by := func(i int) string { return fmt.Sprintf("maker%d@example.com", i) }
		values := make([]store.ReferenceValue, refRacers)
		written := make([]store.AuditEntry, refRacers)
		traders := make([]store.FirmTrader, refRacers)
		traderWritten := make([]store.AuditEntry, refRacers)
		errs := race(refRacers, func(i int) error {
			a := newAudit(by(i), "REFERENCE_ADDED", "reference", "comp_id:VOS", now)
			var err error
			values[i], written[i], err = s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "VOS", by(i), now), a)
			if err != nil {
				return err
			}
			a.Action, a.EntityType = "FIRM_TRADER_ADDED", "firm:trader"
			traders[i], traderWritten[i], err = s.PutFirmTrader(ctx, newFirmTrader("011", "00111", by(i), now), a)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("put %d: %v", i, err)
			}
		}
		w := oneWriter(t, "PutReferenceValue", written)
		for i := range values {
			if values[i].CreatedBy != by(w) {
				t.Errorf("caller %d got CreatedBy %q, want the winner's %q", i, values[i].CreatedBy, by(w))
			}
		}
		tw := oneWriter(t, "PutFirmTrader", traderWritten)
		for i := range traders {
			if traders[i].CreatedBy != by(tw) {
				t.Errorf("caller %d got trader CreatedBy %q, want the winner's %q", i, traders[i].CreatedBy, by(tw))
			}
		}
		wantAudit(t, s, store.AuditFilter{Action: "REFERENCE_ADDED"}, written[w])
		wantAudit(t, s, store.AuditFilter{Action: "FIRM_TRADER_ADDED"}, traderWritten[tw])
	})

	su.test(t, "DeleteRace", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		putRef(t, s, newRefValue(store.RefCompID, "VOS", "maker@example.com", now), newAudit("maker@example.com", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
		putTrader(t, s, newFirmTrader("011", "00111", "maker@example.com", now), newAudit("maker@example.com", "FIRM_TRADER_ADDED", "firm:trader", "011:00111", now))
		removed := make([]store.AuditEntry, refRacers)
		errs := race(refRacers, func(i int) error {
			var err error
			removed[i], err = s.DeleteReferenceValue(ctx, store.RefCompID, "VOS", newAudit(fmt.Sprintf("m%d@example.com", i), "REFERENCE_REMOVED", "reference", "comp_id:VOS", now))
			return err
		})
		w := oneWinner(t, errs, store.ErrNotFound)
		wantAudit(t, s, store.AuditFilter{Action: "REFERENCE_REMOVED"}, removed[w])

		removed = make([]store.AuditEntry, refRacers)
		errs = race(refRacers, func(i int) error {
			var err error
			removed[i], err = s.DeleteFirmTrader(ctx, "011", "00111", newAudit(fmt.Sprintf("m%d@example.com", i), "FIRM_TRADER_REMOVED", "firm:trader", "011:00111", now))
			return err
		})
		w = oneWinner(t, errs, store.ErrNotFound)
		wantAudit(t, s, store.AuditFilter{Action: "FIRM_TRADER_REMOVED"}, removed[w])
		wantAuditCount(t, s, store.AuditFilter{}, 4)
	})
}

// oneWriter asserts exactly one put wrote an audit entry and returns its index.
func oneWriter(t *testing.T, what string, written []store.AuditEntry) int {
	t.Helper()
	w := -1
	for i, e := range written {
		if e.ID == 0 {
			continue
		}
		if w >= 0 {
			t.Errorf("%s: callers %d and %d both wrote an audit entry", what, w, i)
		}
		w = i
	}
	if w < 0 {
		t.Fatalf("%s: no caller wrote an audit entry", what)
	}
	return w
}

func second[T any](_ T, _ store.AuditEntry, err error) error { return err }

func sortRefValues(vs []store.ReferenceValue) {
	slices.SortFunc(vs, func(a, b store.ReferenceValue) int { return strings.Compare(a.Value, b.Value) })
}
