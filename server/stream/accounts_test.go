package stream

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// "All my accounts" takes the first MaxServerAccounts accounts in code
// order that the user may read and that exist (a grant on a missing
// account counts for nothing), and only those it does not have yet.
func TestAllMyAccountsPicksTheFirstExisting(t *testing.T) {
	st := memory.New(memory.WithJanitorInterval(0))
	t.Cleanup(func() { _ = st.Close() })
	const user = "many@example.com"
	_, err := st.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
		for i := range 150 {
			code := fmt.Sprintf("A%03d", i)
			if i != 7 { // granted, never created
				if err := tx.PutAccount(store.Account{AccountCode: code}); err != nil {
					return err
				}
			}
			if err := tx.PutGrant(store.Grant{UserID: user, AccountCode: code, Level: store.LevelView}); err != nil {
				return err
			}
		}
		return tx.PutAccount(store.Account{AccountCode: "B000"}) // not granted
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{o: Options{Permissions: risk.New(st)}}
	readable, err := s.o.Permissions.Readable(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.newAccounts(t.Context(), user, readable, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxServerAccounts || got[0] != "A000" || slices.Contains(got, "A007") || got[len(got)-1] != "A100" ||
		!slices.IsSorted(got) {
		t.Fatalf("all my accounts: %d, %v … %v", len(got), got[:3], got[len(got)-3:])
	}
	have := map[string]bool{"A000": true, "A001": true}
	more, err := s.newAccounts(t.Context(), user, readable, have)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != MaxServerAccounts-2 || more[0] != "A002" {
		t.Fatalf("with two subscribed already: %d from %v", len(more), more[:1])
	}
}

func TestConnectData(t *testing.T) {
	for data, want := range map[string]bool{"": false, "  ": false, `{"accounts":"all"}`: true, ` {"accounts":"all"} `: true} {
		if got, err := wantsAllAccounts([]byte(data)); got != want || err != nil {
			t.Errorf("%q: %v %v, want %v", data, got, err, want)
		}
	}
	for _, data := range []string{`{"accounts":"mine"}`, `{"accounts":"all","x":1}`, `{"Accounts":"ALL"}`, `{"ACCOUNTS":"all"}`, `{"accounts":"all","accounts":"all"}`, `{}`, `[]`, `null`, `"all"`, `{"accounts":"all"}{}`, `{"accounts":`} {
		if _, err := wantsAllAccounts([]byte(data)); !errors.Is(err, DisconnectBadConnectData) {
			t.Errorf("%q: %v, want DisconnectBadConnectData", data, err)
		}
	}
}
