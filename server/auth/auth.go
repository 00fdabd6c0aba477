// Package auth is the authentication domain: identities, password login,
// sessions with their JWTs, and the three-step password recovery. It knows
// nothing about HTTP; server/ maps its errors onto the contract.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store"
)

// Roles an identity can hold.
const (
	RoleAdmin   = "admin"
	RoleMaker   = "maker"
	RoleChecker = "checker"
	RoleTrader  = "trader"
)

// KnownRoles lists every role, in a stable order.
var KnownRoles = []string{RoleAdmin, RoleMaker, RoleChecker, RoleTrader}

// Limit is "at most Count events per Window".
type Limit struct {
	Count  int64
	Window time.Duration
}

func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Count, l.Window) }

// Config holds the auth policy. Zero fields take the defaults of DefaultConfig.
type Config struct {
	SessionLifespan          time.Duration
	RecoveryCodeLifespan     time.Duration
	RecoveryVerifiedLifespan time.Duration
	RecoveryMaxAttempts      int

	// LoginPerIdentifier is the strict limit: failed logins per email from
	// one client network, or from one signed-in device (device cookie).
	LoginPerIdentifier Limit
	LoginPerIP         Limit // failed logins per client network
	// LoginPerAccount counts failed logins per email from every network.
	// Past it, logins for that email slow down by LoginSlowdown instead of
	// being refused, so strangers can never lock an account; clients that
	// signed in before (device cookie or known network) are not slowed.
	LoginPerAccount      Limit
	LoginSlowdown        time.Duration
	DeviceLifespan       time.Duration // lifetime of the signed device cookie
	KnownNetworkLifespan time.Duration // how long a network stays known after a login
	RecoveryPerEmail     Limit         // recovery starts per email (known or not)
	RecoveryPerIP        Limit         // recovery starts per client network
	RecoveryVerifyPerIP  Limit         // code checks per client network
	RecoveryResetPerIP   Limit         // reset attempts per client network
	// RecoveryCodeBudget counts code checks per address across all its
	// recovery sessions; past it no code is mailed to the address and every
	// check is refused until the window ends.
	RecoveryCodeBudget Limit
	// IPv4Prefix and IPv6Prefix say which client networks the per-IP limits
	// count: a host has one IPv4 address but a whole /64 of IPv6 ones.
	IPv4Prefix, IPv6Prefix int
	PasswordPolicy         password.Policy
	// HashWait bounds the wait for a free password-hashing slot; past it
	// the request answers 503 instead of queueing without end.
	HashWait time.Duration
}

// DefaultConfig is the documented default policy.
func DefaultConfig() Config {
	return Config{
		SessionLifespan:          24 * time.Hour,
		RecoveryCodeLifespan:     10 * time.Minute,
		RecoveryVerifiedLifespan: 10 * time.Minute,
		RecoveryMaxAttempts:      5,
		LoginPerIdentifier:       Limit{10, 15 * time.Minute},
		LoginPerIP:               Limit{100, 15 * time.Minute},
		LoginPerAccount:          Limit{100, 15 * time.Minute},
		LoginSlowdown:            2 * time.Second,
		DeviceLifespan:           90 * 24 * time.Hour,
		KnownNetworkLifespan:     30 * 24 * time.Hour,
		RecoveryPerEmail:         Limit{5, time.Hour},
		RecoveryPerIP:            Limit{30, time.Hour},
		RecoveryVerifyPerIP:      Limit{60, 15 * time.Minute},
		RecoveryResetPerIP:       Limit{30, 15 * time.Minute},
		RecoveryCodeBudget:       Limit{10, 24 * time.Hour},
		IPv4Prefix:               32,
		IPv6Prefix:               64,
		PasswordPolicy:           password.Policy{MinLength: 8, MaxLength: 256},
		HashWait:                 5 * time.Second,
	}
}

// Service implements the authentication use cases.
type Service struct {
	cfg    Config
	store  store.Store
	hasher *password.Hasher
	tokens *token.Issuer
	mailer mail.Sender
	secret []byte
	log    *slog.Logger
	now    func() time.Time
	events Events

	recoveryMail     chan recoveryMailJob
	recoveryMailDone chan struct{}
	closeOnce        sync.Once
}

// Deps are the collaborators of a Service.
type Deps struct {
	Store  store.Store
	Hasher *password.Hasher
	Tokens *token.Issuer
	Mailer mail.Sender // should not block: wrap slow senders in mail.Async
	Secret []byte      // HMAC key for recovery codes and email keys; >= 32 bytes
	Logger *slog.Logger
	Clock  func() time.Time
	Events Events // optional: metrics of logins, throttling and recovery
}

// New builds a Service.
func New(cfg Config, d Deps) (*Service, error) {
	def := DefaultConfig()
	if cfg.SessionLifespan <= 0 {
		cfg.SessionLifespan = def.SessionLifespan
	}
	if cfg.RecoveryCodeLifespan <= 0 {
		cfg.RecoveryCodeLifespan = def.RecoveryCodeLifespan
	}
	if cfg.RecoveryVerifiedLifespan <= 0 {
		cfg.RecoveryVerifiedLifespan = def.RecoveryVerifiedLifespan
	}
	if cfg.RecoveryMaxAttempts <= 0 {
		cfg.RecoveryMaxAttempts = def.RecoveryMaxAttempts
	}
	for _, l := range []struct {
		dst *Limit
		def Limit
	}{
		{&cfg.LoginPerIdentifier, def.LoginPerIdentifier}, {&cfg.LoginPerIP, def.LoginPerIP},
		{&cfg.RecoveryPerEmail, def.RecoveryPerEmail}, {&cfg.RecoveryPerIP, def.RecoveryPerIP},
		{&cfg.RecoveryVerifyPerIP, def.RecoveryVerifyPerIP}, {&cfg.RecoveryResetPerIP, def.RecoveryResetPerIP},
		{&cfg.LoginPerAccount, def.LoginPerAccount}, {&cfg.RecoveryCodeBudget, def.RecoveryCodeBudget},
	} {
		if l.dst.Count <= 0 || l.dst.Window <= 0 {
			*l.dst = l.def
		}
	}
	if cfg.PasswordPolicy.MinLength <= 0 {
		cfg.PasswordPolicy.MinLength = def.PasswordPolicy.MinLength
	}
	if cfg.PasswordPolicy.MaxLength <= 0 {
		cfg.PasswordPolicy.MaxLength = def.PasswordPolicy.MaxLength
	}
	for _, d := range []struct{ dst, def *time.Duration }{
		{&cfg.HashWait, &def.HashWait}, {&cfg.LoginSlowdown, &def.LoginSlowdown},
		{&cfg.DeviceLifespan, &def.DeviceLifespan}, {&cfg.KnownNetworkLifespan, &def.KnownNetworkLifespan},
	} {
		if *d.dst <= 0 {
			*d.dst = *d.def
		}
	}
	if cfg.IPv4Prefix <= 0 || cfg.IPv4Prefix > 32 {
		cfg.IPv4Prefix = def.IPv4Prefix
	}
	if cfg.IPv6Prefix <= 0 || cfg.IPv6Prefix > 128 {
		cfg.IPv6Prefix = def.IPv6Prefix
	}
	if d.Store == nil || d.Hasher == nil || d.Tokens == nil || d.Mailer == nil {
		return nil, errors.New("auth: store, hasher, tokens and mailer are required")
	}
	if len(d.Secret) < 32 {
		return nil, errors.New("auth: the secret must be at least 32 bytes")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Events == nil {
		d.Events = noEvents{}
	}
	s := &Service{cfg: cfg, store: d.Store, hasher: d.Hasher, tokens: d.Tokens, mailer: d.Mailer,
		secret: d.Secret, log: d.Logger, now: d.Clock, events: d.Events}
	s.startRecoveryMail()
	return s, nil
}

// Close stops the recovery-mail worker after handing it what is queued.
func (s *Service) Close() { s.stopRecoveryMail() }

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

// Client describes who is calling: used for throttling, session devices and
// notices. Never secret.
type Client struct {
	IP        string
	UserAgent string
	// DeviceCookie is the signed device cookie the client sent, if any: a
	// client that signed in to an account before is not throttled by
	// strangers' failures on that account.
	DeviceCookie string
}

func errClientClosed(cause error) *apperr.Error {
	return apperr.Wrap(apperr.ClientClosed, "the client closed the request before the answer", cause)
}

var errHasherBusy = apperr.New(apperr.ServiceBusy, "the server is busy checking passwords; try again in a few seconds")

// hashCtx bounds the wait for a password-hashing slot (the hash itself is
// never interrupted once started).
func (s *Service) hashCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.HashWait)
}

// hashError maps a failed wait for the hasher: the client left, or the
// server is saturated.
func hashError(ctx context.Context, err error) *apperr.Error {
	if ctx.Err() != nil {
		return errClientClosed(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errHasherBusy
	}
	return apperr.Wrap(apperr.Internal, "could not check the password", err)
}
