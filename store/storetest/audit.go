package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// ---- audit ----

func newAudit(actor, action, entityType, entityID string, at time.Time) store.AuditEntry {
	return store.AuditEntry{
		Actor:      actor,
		Action:     action,
		EntityType: entityType,
		EntityID:   entityID,
		Detail:     json.RawMessage(`{"role":"Maker","value":"Zoë \"VOS\" 日本 \\ </script>","n":12345678901234567}`),
		CreatedAt:  at.Add(123 * time.Microsecond), // stored at millisecond precision
	}
}

func normAudit(e store.AuditEntry) store.AuditEntry {
	e.Detail = nilIfEmpty(e.Detail)
	e.CreatedAt = normTime(e.CreatedAt)
	return e
}

// wantWritten asserts got is the entry a mutation was given, as stored,
// with an assigned ID.
func wantWritten(t *testing.T, what string, got, given store.AuditEntry) {
	t.Helper()
	if got.ID <= 0 {
		t.Errorf("%s: audit entry has ID %d", what, got.ID)
	}
	given.ID = got.ID
	if g, w := normAudit(got), normAudit(given); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: audit entry\n got %#v\nwant %#v", what, g, w)
	}
}

// wantAudit asserts ListAudit(f) returns exactly want, field for field
// (no normalisation: what a mutation returns is what the log holds).
func wantAudit(t *testing.T, s store.Store, f store.AuditFilter, want ...store.AuditEntry) {
	t.Helper()
	got, err := s.ListAudit(t.Context(), f)
	must(t, err)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListAudit(%+v):\n got %s\nwant %s", f, auditIDs(got), auditIDs(want))
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("entry %d:\n got %#v\nwant %#v", i, got[i], want[i])
				break
			}
		}
	}
}

func wantAuditCount(t *testing.T, s store.Store, f store.AuditFilter, n int) {
	t.Helper()
	got, err := s.ListAudit(t.Context(), f)
	must(t, err)
	if len(got) != n {
		t.Errorf("ListAudit(%+v): %d entries, want %d", f, len(got), n)
	}
}

func auditIDs(es []store.AuditEntry) string {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return fmt.Sprint(ids)
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func (su suite) audit(t *testing.T) {
	su.test(t, "Empty", func(t *testing.T, s store.Store) {
		got, err := s.ListAudit(t.Context(), store.AuditFilter{})
		must(t, err)
		if len(got) != 0 {
			t.Errorf("new store has %d audit entries", len(got))
		}
	})

	// Every change of every domain draws its ID from one sequence, and the
	// entry a mutation returns is the one the log holds.
	su.test(t, "OneSequenceAcrossDomains", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		var written []store.AuditEntry
		add := func(e store.AuditEntry, err error) {
			t.Helper()
			must(t, err)
			if n := len(written); n > 0 && e.ID <= written[n-1].ID {
				t.Errorf("audit ID %d after %d: not increasing", e.ID, written[n-1].ID)
			}
			written = append(written, e)
		}
		for i := range 3 {
			v := fmt.Sprint("V", i)
			add(third(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, v, "a@example.com", now), newAudit("a@example.com", "REFERENCE_ADDED", "reference", "comp_id:"+v, now))))
			add(third(s.PutFirmTrader(ctx, newFirmTrader("011", v, "b@example.com", now), newAudit("b@example.com", "FIRM_TRADER_ADDED", "firm:trader", "011:"+v, now))))
			add(s.DeleteReferenceValue(ctx, store.RefCompID, v, newAudit("a@example.com", "REFERENCE_REMOVED", "reference", "comp_id:"+v, now)))
			add(s.DeleteFirmTrader(ctx, "011", v, newAudit("b@example.com", "FIRM_TRADER_REMOVED", "firm:trader", "011:"+v, now)))
		}
		wantAudit(t, s, store.AuditFilter{}, reversed(written)...)
	})

	su.test(t, "DetailRoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		details := []json.RawMessage{
			nil,
			json.RawMessage(`{}`),
			// Spacing, escapes, key order and big numbers are kept byte for byte.
			json.RawMessage("{ \"b\" : [1, 2.50, 1e3],\n \"a\": \"\\u00e9 é \\\"q\\\" \\/ <&>\", \"big\": 123456789012345678901234567890, \"nested\": {\"x\": null, \"y\": {}} }"),
		}
		var written []store.AuditEntry
		for i, d := range details {
			a := newAudit("zoë+ops@exämple.com", "REFERENCE_ADDED", `entity "type"`, `id \ 日本`, now)
			a.Detail, a.RequestID = d, int64(1)<<62+int64(i)
			w := putRef(t, s, newRefValue(store.RefCompID, fmt.Sprint("V", i), "m", now), a)
			if string(w.Detail) != string(d) {
				t.Errorf("detail %d: got %q, want %q", i, w.Detail, d)
			}
			written = append(written, w)
		}
		got, err := s.ListAudit(ctx, store.AuditFilter{})
		must(t, err)
		wantAudit(t, s, store.AuditFilter{}, reversed(written)...)
		for i, e := range reversed(got) {
			if string(e.Detail) != string(details[i]) {
				t.Errorf("listed detail %d: got %q, want %q", i, e.Detail, details[i])
			}
		}
	})

	su.test(t, "Filters", func(t *testing.T, s store.Store) {
		t0 := msNow().Add(-time.Hour)
		var all []store.AuditEntry // oldest first
		for i, p := range []struct{ actor, action, entity string }{
			{"ann@example.com", "REFERENCE_ADDED", "comp_id:A"},
			{"bob@example.com", "REFERENCE_ADDED", "comp_id:B"},
			{"ann@example.com", "REFERENCE_REMOVED", "comp_id:A"},
			{"ann@example.com", "FIRM_TRADER_ADDED", "011:1"},
			{"bob@example.com", "FIRM_TRADER_REMOVED", "011:1"},
			{"ann@example.com", "REFERENCE_ADDED", "comp_id:A"},
		} {
			// Times are the caller's and need not follow ID order.
			a := newAudit(p.actor, p.action, "", p.entity, t0.Add(time.Duration(i)*time.Second))
			if i == 5 {
				a.CreatedAt = t0.Add(1500 * time.Millisecond)
			}
			ctx := t.Context()
			var e store.AuditEntry
			var err error
			switch p.action {
			case "REFERENCE_ADDED":
				a.EntityType = "reference"
				e, err = third(s.PutReferenceValue(ctx, newRefValue(store.RefCompID, p.entity[len("comp_id:"):], p.actor, t0), a))
			case "REFERENCE_REMOVED":
				a.EntityType = "reference"
				e, err = s.DeleteReferenceValue(ctx, store.RefCompID, p.entity[len("comp_id:"):], a)
			case "FIRM_TRADER_ADDED":
				a.EntityType = "firm:trader"
				e, err = third(s.PutFirmTrader(ctx, newFirmTrader("011", "1", p.actor, t0), a))
			case "FIRM_TRADER_REMOVED":
				a.EntityType = "firm:trader"
				e, err = s.DeleteFirmTrader(ctx, "011", "1", a)
			}
			must(t, err)
			all = append(all, e)
		}
		pick := func(idx ...int) []store.AuditEntry {
			out := make([]store.AuditEntry, len(idx))
			for i, j := range idx {
				out[i] = all[j]
			}
			return out
		}
		for name, c := range map[string]struct {
			f    store.AuditFilter
			want []int
		}{
			"none":                {store.AuditFilter{}, []int{5, 4, 3, 2, 1, 0}},
			"actor":               {store.AuditFilter{Actor: "ann@example.com"}, []int{5, 3, 2, 0}},
			"actor is exact":      {store.AuditFilter{Actor: "ann"}, nil},
			"action":              {store.AuditFilter{Action: "REFERENCE_ADDED"}, []int{5, 1, 0}},
			"entity type":         {store.AuditFilter{EntityType: "firm:trader"}, []int{4, 3}},
			"entity":              {store.AuditFilter{EntityType: "reference", EntityID: "comp_id:A"}, []int{5, 2, 0}},
			"from is inclusive":   {store.AuditFilter{From: t0.Add(2 * time.Second)}, []int{4, 3, 2}},
			"to is exclusive":     {store.AuditFilter{To: t0.Add(2 * time.Second)}, []int{5, 1, 0}},
			"window":              {store.AuditFilter{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, []int{5, 2, 1}},
			"window at ms":        {store.AuditFilter{From: t0.Add(1500*time.Millisecond + 900*time.Microsecond), To: t0.Add(1501 * time.Millisecond)}, []int{5}},
			"all together":        {store.AuditFilter{Actor: "ann@example.com", Action: "REFERENCE_ADDED", From: t0.Add(time.Second)}, []int{5}},
			"paged":               {store.AuditFilter{Actor: "ann@example.com", Limit: 2, Offset: 1}, []int{3, 2}},
			"offset past the end": {store.AuditFilter{Offset: 6}, nil},
			"negative offset":     {store.AuditFilter{Offset: -3, Limit: 1}, []int{5}},
			"no match":            {store.AuditFilter{Action: "GROUP_CREATED"}, nil},
		} {
			t.Run(name, func(t *testing.T) { wantAudit(t, s, c.f, pick(c.want...)...) })
		}
	})

	// Paging crosses the Redis adapter's scan batches and the default limit.
	su.test(t, "Paging", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		const n = 300
		all := make([]store.AuditEntry, 0, n) // oldest first
		for i := range n {
			ft := newFirmTrader("F", fmt.Sprint(i), "m@example.com", now)
			actor := "odd@example.com"
			if i%2 == 0 {
				actor = "even@example.com"
			}
			e, err := third(s.PutFirmTrader(ctx, ft, newAudit(actor, "FIRM_TRADER_ADDED", "firm:trader", "F:"+ft.TraderID, now)))
			must(t, err)
			all = append(all, e)
		}
		newest := reversed(all)
		wantAudit(t, s, store.AuditFilter{}, newest[:store.DefaultAuditLimit]...)
		wantAudit(t, s, store.AuditFilter{Limit: 10}, newest[:10]...)
		wantAudit(t, s, store.AuditFilter{Limit: 10, Offset: 250}, newest[250:260]...)
		wantAudit(t, s, store.AuditFilter{Limit: 100, Offset: 290}, newest[290:]...)
		wantAudit(t, s, store.AuditFilter{Limit: store.MaxAuditLimit + 1}, newest...)
		var even []store.AuditEntry
		for _, e := range newest {
			if e.Actor == "even@example.com" {
				even = append(even, e)
			}
		}
		wantAudit(t, s, store.AuditFilter{Actor: "even@example.com", Limit: 20, Offset: 120}, even[120:140]...)
		wantAudit(t, s, store.AuditFilter{Actor: "even@example.com", Limit: 1000, Offset: 140}, even[140:]...)
	})

	su.test(t, "CanceledContext", func(t *testing.T, s store.Store) {
		now := msNow()
		putRef(t, s, newRefValue(store.RefCompID, "VOS", "m", now), newAudit("m", "REFERENCE_ADDED", "reference", "comp_id:VOS", now))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.ListAudit(ctx, store.AuditFilter{})
		wantBackendErr(t, "ListAudit", err)
		_, err = s.ReferenceValues(ctx, store.RefCompID)
		wantBackendErr(t, "ReferenceValues", err)
		_, err = s.HasReferenceValue(ctx, store.RefCompID, "VOS")
		wantBackendErr(t, "HasReferenceValue", err)
		_, _, err = s.PutReferenceValue(ctx, newRefValue(store.RefCompID, "X", "m", now), newAudit("m", "REFERENCE_ADDED", "reference", "comp_id:X", now))
		wantBackendErr(t, "PutReferenceValue", err)
		_, err = s.DeleteReferenceValue(ctx, store.RefCompID, "VOS", newAudit("m", "REFERENCE_REMOVED", "reference", "comp_id:VOS", now))
		wantBackendErr(t, "DeleteReferenceValue", err)
		_, err = s.FirmTraders(ctx, "")
		wantBackendErr(t, "FirmTraders", err)
		_, _, err = s.PutFirmTrader(ctx, newFirmTrader("f", "t", "m", now), newAudit("m", "FIRM_TRADER_ADDED", "firm:trader", "f:t", now))
		wantBackendErr(t, "PutFirmTrader", err)
		_, err = s.DeleteFirmTrader(ctx, "f", "t", newAudit("m", "FIRM_TRADER_REMOVED", "firm:trader", "f:t", now))
		wantBackendErr(t, "DeleteFirmTrader", err)
		// Nothing changed.
		wantAuditCount(t, s, store.AuditFilter{}, 1)
	})
}

// third keeps a Put's audit entry and error.
func third[T any](_ T, e store.AuditEntry, err error) (store.AuditEntry, error) { return e, err }
