package faultstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/faultstore"
	"github.com/vero-oms/omsd/store/memory"
)

// Each fault does to the commit what its name says, and a lost answer
// reads as the Redis store's: unavailable, outcome unknown.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		fault   faultstore.Fault
		stored  bool
		unknown bool
	}{
		{faultstore.Pass, true, false},
		{faultstore.Down, false, false},
		{faultstore.Landed, true, true},
		{faultstore.Unsent, false, true},
	} {
		t.Run(c.fault.String(), func(t *testing.T) {
			fs := faultstore.New(memory.New())
			fs.Set(faultstore.OnCall(2, c.fault), nil)
			put := func(code string) error {
				_, err := fs.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
					return tx.PutAccount(store.Account{AccountCode: code})
				})
				return err
			}
			if err := put("A1"); err != nil {
				t.Fatalf("call 1 (planned to pass): %v", err)
			}
			err := put("A2")
			if (err == nil) != (c.fault == faultstore.Pass) || errors.Is(err, store.ErrOutcomeUnknown) != c.unknown {
				t.Fatalf("call 2: %v", err)
			}
			if err != nil && !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("call 2: %v, want store.ErrUnavailable", err)
			}
			_, err = fs.Account(ctx, "A2")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if ok := err == nil; ok != c.stored {
				t.Fatalf("A2 stored: %v, want %v", err == nil, c.stored)
			}
		})
	}
}
