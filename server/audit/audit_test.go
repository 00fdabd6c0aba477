package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/audit"
	"github.com/vero-oms/omsd/store"
)

type fakeStore struct{ got store.AuditFilter }

func (f *fakeStore) ListAudit(_ context.Context, q store.AuditFilter) ([]store.AuditEntry, error) {
	f.got = q
	return nil, nil
}

func TestListBoundsAndDefaults(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	s := audit.New(st)
	if _, err := s.List(ctx, audit.Query{Actor: "a", Offset: 7}); err != nil {
		t.Fatal(err)
	}
	if st.got.Limit != audit.DefaultLimit || st.got.Offset != 7 || st.got.Actor != "a" {
		t.Fatalf("filter: %+v", st.got)
	}
	if _, err := s.List(ctx, audit.Query{Limit: audit.MaxLimit}); err != nil || st.got.Limit != audit.MaxLimit {
		t.Fatalf("max limit: %+v %v", st.got, err)
	}
	t0 := time.Now()
	for _, q := range []audit.Query{
		{Limit: audit.MaxLimit + 1}, {Limit: -1}, {Offset: -1},
		{From: t0, To: t0}, {From: t0, To: t0.Add(-time.Second)},
	} {
		_, err := s.List(ctx, q)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.InvalidRequest {
			t.Fatalf("%+v: %v", q, err)
		}
	}
}
