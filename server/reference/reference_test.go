package reference_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/reference"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

func code(err error) apperr.Code {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestReferenceAuditsChangesOnly(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := reference.New(st, func() time.Time { return at })

	v, err := s.AddValue(ctx, "m@x", store.RefCompID, "C1")
	if err != nil || v.CreatedBy != "m@x" || !v.CreatedAt.Equal(at) {
		t.Fatalf("add: %+v %v", v, err)
	}
	at = at.Add(time.Hour)
	again, err := s.AddValue(ctx, "other@x", store.RefCompID, "C1")
	if err != nil || again != v {
		t.Fatalf("add again: %+v %v, want %+v", again, err, v)
	}
	if _, err := s.AddValue(ctx, "m@x", "venue", "C1"); code(err) != apperr.InvalidRequest {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := s.Values(ctx, "venue"); code(err) != apperr.InvalidRequest {
		t.Fatalf("unknown kind list: %v", err)
	}
	if err := s.RemoveValue(ctx, "m@x", store.RefCompID, "C1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveValue(ctx, "m@x", store.RefCompID, "C1"); code(err) != apperr.NotFound {
		t.Fatalf("remove absent: %v", err)
	}
	if _, err := s.AddFirmTrader(ctx, "m@x", "F", "T"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFirmTrader(ctx, "m@x", "F", "T2"); code(err) != apperr.NotFound {
		t.Fatalf("unmap absent: %v", err)
	}
	if _, err := s.AddFirmTrader(ctx, "m@x", "F", "\x00"); code(err) != apperr.InvalidRequest {
		t.Fatalf("NUL id: %v", err)
	}

	es, err := st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, typ, id string }{
		{reference.ActionFirmTraderAdded, reference.EntityFirmTrader, "F:T"},
		{reference.ActionReferenceRemoved, reference.EntityReference, "comp_id:C1"},
		{reference.ActionReferenceAdded, reference.EntityReference, "comp_id:C1"},
	}
	if len(es) != len(want) {
		t.Fatalf("%d entries: %+v", len(es), es)
	}
	for i, w := range want {
		if es[i].Action != w.action || es[i].EntityType != w.typ || es[i].EntityID != w.id || es[i].Actor != "m@x" {
			t.Fatalf("entry %d: %+v, want %+v", i, es[i], w)
		}
	}
	var d map[string]string
	if err := json.Unmarshal(es[2].Detail, &d); err != nil || d["kind"] != "comp_id" || d["value"] != "C1" {
		t.Fatalf("detail %s: %v", es[2].Detail, err)
	}
}
