package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/vero-oms/omsd/store"
)

func TestAuditPage(t *testing.T) {
	for _, c := range []struct{ limit, offset, wantLimit, wantOffset int }{
		{0, 0, store.DefaultAuditLimit, 0},
		{-5, -5, store.DefaultAuditLimit, 0},
		{7, 3, 7, 3},
		{store.MaxAuditLimit, 0, store.MaxAuditLimit, 0},
		{store.MaxAuditLimit + 1, 0, store.MaxAuditLimit, 0},
	} {
		l, o := store.AuditFilter{Limit: c.limit, Offset: c.offset}.Page()
		if l != c.wantLimit || o != c.wantOffset {
			t.Errorf("Page(%d, %d) = %d, %d; want %d, %d", c.limit, c.offset, l, o, c.wantLimit, c.wantOffset)
		}
	}
}

func TestAuditEntryValidate(t *testing.T) {
	ok := store.AuditEntry{Actor: "a@example.com", Action: "REFERENCE_ADDED"}
	if err := ok.Validate(); err != nil {
		t.Errorf("no detail: %v", err)
	}
	for detail, valid := range map[string]bool{`{}`: true, ` {"a":[1]} `: true, `[1]`: false, `"s"`: false, `{"a":`: false, `null`: false} {
		e := ok
		e.Detail = json.RawMessage(detail)
		if err := e.Validate(); (err == nil) != valid || (err != nil && !errors.Is(err, store.ErrInvalid)) {
			t.Errorf("detail %s: %v, want valid=%v", detail, err, valid)
		}
	}
}
