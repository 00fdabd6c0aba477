package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Finding 7: a recovery start does the same synchronous work for a known
// and an unknown address: one job on the mail queue each, and no mail
// rendered or handed to the mailer on the request's path.
func TestRecoveryStartDoesTheSameSynchronousWorkForEveryAddress(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	queue := make(chan recoveryMailJob, 8)
	worker := f.svc.recoveryMail
	f.svc.recoveryMail = queue // nobody reads it: what the request left behind stays visible
	defer func() { f.svc.recoveryMail = worker }()
	var jobs []recoveryMailJob
	for _, email := range []string{"ann@oms.example", "nobody@oms.example"} {
		if _, err := f.svc.StartRecovery(ctx, email, cli); err != nil {
			t.Fatal(err)
		}
		if len(f.box.sent) != 0 {
			t.Fatalf("%s: mail handed to the mailer during the request", email)
		}
		if len(queue) != 1 {
			t.Fatalf("%s: %d jobs queued, want 1", email, len(queue))
		}
		j := <-queue
		if j.email != email || j.code == "" || j.emailKey == "" {
			t.Fatalf("%s: job %+v", email, j)
		}
		jobs = append(jobs, j)
	}
	f.svc.recoveryMail = worker
	for _, j := range jobs {
		worker <- j // the worker sends for the known address only
	}
	f.svc.flushRecoveryMail()
	if len(f.box.sent) != 1 || f.box.sent[0].To != "ann@oms.example" {
		t.Fatalf("mails %+v: want exactly one, to the known address", f.box.sent)
	}
}

func TestNetworksForThrottling(t *testing.T) {
	s := &Service{cfg: DefaultConfig()}
	for ip, want := range map[string]string{
		"192.0.2.10":                    "192.0.2.10/32",
		"::ffff:192.0.2.10":             "192.0.2.10/32",
		"2001:db8:1:2:3:4:5:6":          "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":          "2001:db8:1:2::/64",
		"fe80::1%eth0":                  "fe80::/64",
		"not-an-ip":                     "raw:not-an-ip",
		"2001:db8:1:3:0:0:0:1":          "2001:db8:1:3::/64",
		"2001:0db8:0001:0002:0000::0:1": "2001:db8:1:2::/64",
	} {
		if got := s.network(ip); got != want {
			t.Errorf("network(%q) = %q, want %q", ip, got, want)
		}
	}
	s.cfg.IPv4Prefix, s.cfg.IPv6Prefix = 24, 48
	if got := s.network("192.0.2.10"); got != "192.0.2.0/24" {
		t.Errorf("/24: %q", got)
	}
	if got := s.network("2001:db8:1:2::1"); got != "2001:db8:1::/48" {
		t.Errorf("/48: %q", got)
	}
}

// base64URL is the base64url alphabet, in value order.
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// The device cookie is bound to its account and expiry, and signed.
func TestDeviceCookie(t *testing.T) {
	f := newFixture(t, Config{})
	now := f.now
	ann, bob := f.svc.emailKey("ann@oms.example"), f.svc.emailKey("bob@oms.example")
	dc := f.svc.newDeviceCookie(newDeviceID(), ann, now)
	id, ok := f.svc.checkDevice(dc.Value, ann, now)
	if !ok || id == "" {
		t.Fatalf("a fresh cookie must verify: %q", dc.Value)
	}
	if _, ok := f.svc.checkDevice(dc.Value, bob, now); ok {
		t.Fatal("a device cookie must not vouch for another account")
	}
	if _, ok := f.svc.checkDevice(dc.Value, ann, now.Add(f.svc.cfg.DeviceLifespan+time.Second)); ok {
		t.Fatal("an expired device cookie must not verify")
	}
	parts := strings.Split(dc.Value, ".")
	sig := parts[3]
	other := func(c byte) string { // a different base64url character
		if c == 'A' {
			return "B"
		}
		return "A"
	}
	// The same signature bytes spelled with the last character's two spare
	// bits set (32 bytes end in 4 data bits and 2 spare bits).
	last := strings.IndexByte(base64URL, sig[len(sig)-1])
	respelled := sig[:len(sig)-1] + string(base64URL[last|3])
	for _, bad := range []string{
		"", "d1", parts[0] + "." + parts[1] + "." + parts[2], // truncated
		parts[0] + "." + parts[1] + ".99999999999." + parts[3],                   // expiry changed
		strings.Replace(dc.Value, parts[1], "AAAAAAAAAAAAAAAAAAAAAA", 1),         // device changed
		dc.Value[:len(dc.Value)-1] + other(sig[len(sig)-1]),                      // signature's last character changed
		dc.Value[:len(dc.Value)-10] + other(sig[len(sig)-10]) + sig[len(sig)-9:], // a character inside it changed
		strings.TrimSuffix(dc.Value, sig) + respelled,                            // the same bytes spelled differently
	} {
		if bad == dc.Value {
			t.Fatalf("the tampered cookie is the cookie: %q", bad)
		}
		if _, ok := f.svc.checkDevice(bad, ann, now); ok {
			t.Errorf("tampered cookie %q verified", bad)
		}
	}
	// A login hands one out; a client presenting it is throttled on its own key.
	in, err := f.svc.Login(context.Background(), "ann@oms.example", "ann-password-1", cli)
	if err != nil || in.Device == nil {
		t.Fatalf("login: %+v %v", in.Device, err)
	}
	if _, ok := f.svc.checkDevice(in.Device.Value, ann, f.now); !ok {
		t.Fatal("the login's device cookie does not verify")
	}
}
