package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/centrifugal/centrifuge"
	jsonv2 "github.com/go-json-experiment/json"
)

// "All my accounts": a client that connects with the data
// {"accounts":"all"} is subscribed by the server to the order and account
// channels of every account it may read (server-side subscriptions, with
// recovery), is told which in the connect reply's data, and follows its
// grants: a revoked grant ends the two subscriptions (2100, as for a
// client's own), a new grant adds them within a revocation round. A
// client that subscribes to one of those channels itself as well is
// answered 105 already subscribed.

// MaxServerAccounts is how many accounts "all my accounts" subscribes to:
// two channels each, 200 of a connection's MaxSubscriptions (256), which
// leaves the client 56 of its own (market data). A user with more gets the
// first ones in code order and subscribes to the rest itself.
const MaxServerAccounts = 100

// DisconnectBadConnectData ends a connection whose connect data is neither
// empty nor {"accounts":"all"}: the Centrifuge code of a bad request, which
// clients do not retry, with a reason that says what is accepted.
var DisconnectBadConnectData = centrifuge.Disconnect{Code: centrifuge.DisconnectBadRequest.Code,
	Reason: `bad connect data: want {"accounts":"all"} or none`}

// connectInfo is the connect reply's data for "all my accounts".
type connectInfo struct {
	Accounts []string `json:"accounts"`
}

type allAccountsKey struct{}

// wantsAllAccounts reads a connection's connect data: false when empty,
// true for {"accounts":"all"}, an error for anything else.
func wantsAllAccounts(data []byte) (bool, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return false, nil
	}
	// encoding/json/v2's rules (go-json-experiment, as the request bodies'
	// check): names match exactly and once, one value and nothing after it.
	var req struct {
		Accounts string `json:"accounts"`
	}
	if err := jsonv2.Unmarshal(data, &req, jsonv2.RejectUnknownMembers(true)); err != nil || req.Accounts != "all" {
		return false, DisconnectBadConnectData
	}
	return true, nil
}

// allAccounts answers a connect that asked for all its accounts: the
// server-side subscriptions and the reply's data.
func (s *Server) allAccounts(ctx context.Context, user string, reply *centrifuge.ConnectReply) error {
	readable, err := s.o.Permissions.Readable(ctx, user)
	if err != nil {
		return err
	}
	accounts, err := s.newAccounts(ctx, user, readable, nil)
	if err != nil {
		return err
	}
	reply.Subscriptions = make(map[string]centrifuge.SubscribeOptions, 2*len(accounts))
	for _, a := range accounts {
		for _, ch := range []string{OrderChannel(a), AccountChannel(a)} {
			reply.Subscriptions[ch] = centrifuge.SubscribeOptions{EnableRecovery: true}
		}
	}
	reply.Data, err = json.Marshal(connectInfo{Accounts: accounts})
	reply.Context = context.WithValue(reply.Context, allAccountsKey{}, true)
	return err
}

// newAccounts lists, in code order, the readable accounts that exist
// (Permissions.Account's rule) and are not in have, as many as fit with
// have in MaxServerAccounts. Only those are read.
func (s *Server) newAccounts(ctx context.Context, user string, readable, have map[string]bool) ([]string, error) {
	codes := make([]string, 0, len(readable))
	for a, ok := range readable {
		if ok && !have[a] {
			codes = append(codes, a)
		}
	}
	slices.Sort(codes)
	var out []string
	for _, a := range codes {
		if len(have)+len(out) >= MaxServerAccounts {
			break
		}
		granted, err := s.granted(ctx, user, a)
		if err != nil {
			return nil, err
		}
		if granted {
			out = append(out, a)
		}
	}
	return out, nil
}

// followGrants subscribes a client that asked for all its accounts to the
// channels of accounts granted since (readable: the round's read; the
// revocation round has ended the subscriptions of grants gone).
func (s *Server) followGrants(ctx context.Context, cl *centrifuge.Client, readable map[string]bool) {
	if want, _ := cl.Context().Value(allAccountsKey{}).(bool); !want {
		return
	}
	have := map[string]bool{}
	for _, ch := range cl.Channels() {
		if a, ok := strings.CutPrefix(ch, orderChannelPrefix); ok && readable[a] {
			have[a] = true
		}
	}
	accounts, err := s.newAccounts(ctx, cl.UserID(), readable, have)
	if err != nil {
		return // the next round tries again
	}
	for _, a := range accounts {
		for _, ch := range []string{OrderChannel(a), AccountChannel(a)} {
			if err := cl.Subscribe(ch, centrifuge.WithRecovery(true)); err != nil {
				s.o.Log.Warn("stream: server-side subscription failed", "channel", ch, "err", err)
			}
		}
	}
}
