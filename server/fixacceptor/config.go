// Package fixacceptor is omsd's FIX 4.2 API (issue 17): a TCP acceptor
// that runs the session layer of server/fix for each configured session
// and maps its application messages onto server/trading, the way the REST
// handlers do. ExecutionReports come from the store's outbox (every
// order state change, whichever channel made it), queued per session in
// the store so none is lost between the commit and the wire.
package fixacceptor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// SessionConfig is one FIX session omsd accepts.
type SessionConfig struct {
	// SenderCompID is the client's CompID, TargetCompID omsd's.
	SenderCompID string `json:"sender_comp_id"`
	TargetCompID string `json:"target_comp_id"`
	// Identity is the omsd identity (email) the session acts as: its
	// grants decide which accounts it may trade and which it hears of.
	Identity string `json:"identity"`
	// SourceCIDRs are the addresses a logon may come from ("0.0.0.0/0"
	// and "::/0" allow any; an empty list allows none).
	SourceCIDRs []string `json:"source_cidrs"`
	// Secret is an argon2id PHC string (`omsd hash-password` writes one):
	// when set, a Logon must carry the password in RawData (96).
	Secret string `json:"secret_argon2id,omitempty"`

	prefixes []netip.Prefix
}

// Name is the session's name in the store, logs and metrics.
func (c SessionConfig) Name() string { return c.SenderCompID + ">" + c.TargetCompID }

// Allows reports whether a logon may come from addr.
func (c SessionConfig) Allows(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// DemoSession is dev mode's session: DEMOCLIENT → OMSD acting as the demo
// trader, from loopback, without a secret.
func DemoSession() SessionConfig {
	c := SessionConfig{SenderCompID: "DEMOCLIENT", TargetCompID: "OMSD", Identity: "trader@oms.example",
		SourceCIDRs: []string{"127.0.0.0/8", "::1/128"}}
	if err := c.check(); err != nil {
		panic(err) // a constant: cannot happen
	}
	return c
}

// sessionsFile is the format of OMS_FIX_SESSIONS_FILE.
type sessionsFile struct {
	Sessions []SessionConfig `json:"sessions"`
}

// LoadSessions reads and checks a sessions file (format in docs/fix.md).
func LoadSessions(path string) ([]SessionConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f sessionsFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for i := range f.Sessions {
		c := &f.Sessions[i]
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("%s: session %d: %w", path, i+1, err)
		}
		if seen[c.SenderCompID] {
			return nil, fmt.Errorf("%s: SenderCompID %q appears twice", path, c.SenderCompID)
		}
		seen[c.SenderCompID] = true
	}
	return f.Sessions, nil
}

func (c *SessionConfig) check() error {
	for _, id := range []string{c.SenderCompID, c.TargetCompID} {
		if id == "" || len(id) > 64 || strings.ContainsAny(id, "\x01= >") {
			return fmt.Errorf("CompIDs must be 1-64 characters without SOH, '=', '>' or spaces, got %q", id)
		}
	}
	if c.Identity == "" {
		return errors.New("identity is required")
	}
	if c.Secret != "" && !isArgon2idPHC(c.Secret) {
		return errors.New("secret_argon2id must be an argon2id PHC string ($argon2id$...)")
	}
	c.prefixes = c.prefixes[:0]
	for _, s := range c.SourceCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("source_cidrs: %w", err)
		}
		c.prefixes = append(c.prefixes, p.Masked())
	}
	return nil
}

// isArgon2idPHC reports whether phc looks like an argon2id PHC string (a
// format check of the configured hash, not a comparison with a secret).
func isArgon2idPHC(phc string) bool { return strings.HasPrefix(phc, "$argon2id$") }
