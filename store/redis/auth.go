package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
)

// ---- identities ----

func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	rec, err := encodeIdentity(id)
	if err != nil {
		return err
	}
	n, err := createIdentity.Run(ctx, s.c,
		[]string{s.k.identity(id.ID), s.k.email(id.Email), s.k.identities()},
		id.ID, rec).Int()
	if err != nil {
		return fail("create identity", err)
	}
	if n == 0 {
		return fmt.Errorf("identity %q: %w", id.ID, store.ErrConflict)
	}
	return nil
}

func (s *Store) IdentityByID(ctx context.Context, id string) (store.Identity, error) {
	b, err := s.c.Get(ctx, s.k.identity(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("get identity", err)
	}
	return decodeIdentity(b)
}

func (s *Store) IdentityByEmail(ctx context.Context, email string) (store.Identity, error) {
	v, err := identityByEmail.Run(ctx, s.c, []string{s.k.email(email)}, s.k.identityPrefix()).Text()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("identity by email", err)
	}
	return decodeIdentity([]byte(v))
}

// listBatch bounds one MGET so a large directory doesn't block Redis.
const listBatch = 500

func (s *Store) ListIdentities(ctx context.Context) ([]store.Identity, error) {
	ids, err := s.c.SMembers(ctx, s.k.identities()).Result()
	if err != nil {
		return nil, fail("list identities", err)
	}
	out := make([]store.Identity, 0, len(ids))
	for start := 0; start < len(ids); start += listBatch {
		batch := ids[start:min(start+listBatch, len(ids))]
		ks := make([]string, len(batch))
		for i, id := range batch {
			ks[i] = s.k.identity(id)
		}
		vals, err := s.c.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, fail("list identities", err)
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // listed but gone
			}
			i, err := decodeIdentity([]byte(str))
			if err != nil {
				return nil, err
			}
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Email < out[b].Email })
	return out, nil
}

func (s *Store) SetIdentityState(ctx context.Context, id string, state store.IdentityState, now time.Time) (store.Identity, error) {
	v, err := setIdentityState.Run(ctx, s.c, []string{s.k.identity(id)}, string(state), ms(now)).Text()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("set identity state", err)
	}
	return decodeIdentity([]byte(v))
}

func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	res, err := rehashPassword.Run(ctx, s.c, []string{s.k.identity(id)}, oldHash, newHash).Text()
	if err != nil {
		return fail("rehash password", err)
	}
	switch res {
	case "NOTFOUND":
		return store.ErrNotFound
	case "CONFLICT":
		return store.ErrConflict
	}
	return nil
}

// ---- sessions ----

func (s *Store) CreateSession(ctx context.Context, sess store.Session, now time.Time) error {
	rec, err := encodeSession(sess)
	if err != nil {
		return err
	}
	d := ttl(sess.ExpiresAt, now)
	sk, tk := s.k.session(sess.ID), s.k.token(sess.TokenHash)
	// Different slots, so no transaction: record first, then its index.
	var created *goredis.BoolCmd
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		created = p.SetNX(ctx, sk, rec, d)
		p.Set(ctx, tk, sess.ID, d)
		return nil
	})
	if err != nil {
		return fail("create session", err)
	}
	if created.Val() {
		return nil
	}
	// The id was taken but the pipeline pointed our token at it anyway;
	// take that back unless it is the existing session's own token.
	// (Lookups by token also check the record's TokenHash.)
	if old, err := s.loadSession(ctx, sess.ID); err != nil || old.TokenHash != sess.TokenHash {
		if err := delIfEqual.Run(ctx, s.c, []string{tk}, sess.ID).Err(); err != nil {
			return fail("create session", err)
		}
	}
	return fmt.Errorf("session %q: %w", sess.ID, store.ErrConflict)
}

func (s *Store) loadSession(ctx context.Context, id string) (store.Session, error) {
	b, err := s.c.Get(ctx, s.k.session(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fail("get session", err)
	}
	return decodeSession(b)
}

func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	id, err := s.c.Get(ctx, s.k.token(tokenHash)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fail("get session token", err)
	}
	sess, err := s.loadSession(ctx, id)
	if err != nil {
		return store.Session{}, err
	}
	if sess.TokenHash != tokenHash || ms(now) >= ms(sess.ExpiresAt) {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// SessionWithIdentity reads the session and its identity. The identity key
// depends on the session, and the two live in different slots, so no single
// script can read both. Instead the session->identity mapping (fixed for a
// session's life) is remembered in this process: a repeat check is one
// pipelined round trip of two GETs, a first check two sequential GETs. The
// memo also keeps the last values read with their decoded records, so a
// repeat check whose values are unchanged decodes nothing; every check
// still reads both keys, so a revoked session or a changed identity counts
// at once.
func (s *Store) SessionWithIdentity(ctx context.Context, sessionID string, now time.Time) (store.Session, store.Identity, error) {
	m, ok := s.sessionIdentity.Get(sessionID)
	if !ok {
		return s.sessionWithIdentityFirst(ctx, sessionID, now)
	}
	var sc, ic *goredis.StringCmd
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		sc = p.Get(ctx, s.k.session(sessionID))
		ic = p.Get(ctx, s.k.identity(m.identityID))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.Session{}, store.Identity{}, fail("get session and identity", err)
	}
	return s.sessionFromMemo(ctx, sessionID, m, sc, ic, now)
}

// SessionsWithIdentity checks many sessions as SessionWithIdentity does,
// in one pipelined round trip of two GETs a session; sessions this
// process has not checked before (none remembered, or more than the memo
// holds) cost one round trip more, all together, to learn their
// identities.
func (s *Store) SessionsWithIdentity(ctx context.Context, sessionIDs []string, now time.Time) ([]store.SessionCheck, error) {
	memos, err := s.sessionMemos(ctx, sessionIDs)
	if err != nil {
		return nil, err
	}
	cmds := make([][2]*goredis.StringCmd, len(sessionIDs))
	if slices.ContainsFunc(memos, func(m *sessionMemo) bool { return m != nil }) {
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range sessionIDs {
				if memos[i] != nil {
					cmds[i] = [2]*goredis.StringCmd{p.Get(ctx, s.k.session(id)), p.Get(ctx, s.k.identity(memos[i].identityID))}
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, fail("get sessions and identities", err)
		}
	}
	out := make([]store.SessionCheck, len(sessionIDs))
	for i, id := range sessionIDs {
		if memos[i] == nil {
			continue // no such session
		}
		var c store.SessionCheck
		c.Session, c.Identity, err = s.sessionFromMemo(ctx, id, memos[i], cmds[i][0], cmds[i][1], now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		c.Found = err == nil
		out[i] = c
	}
	return out, nil
}

// sessionMemos returns what is remembered of each session; those not
// remembered are read, together, into a memo of the session alone (the
// identity follows in sessionFromMemo), nil for a session that is gone.
func (s *Store) sessionMemos(ctx context.Context, sessionIDs []string) ([]*sessionMemo, error) {
	memos := make([]*sessionMemo, len(sessionIDs))
	reads := map[int]*goredis.StringCmd{}
	for i, id := range sessionIDs {
		if memos[i], _ = s.sessionIdentity.Get(id); memos[i] == nil {
			reads[i] = nil
		}
	}
	if len(reads) == 0 {
		return memos, nil
	}
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range reads {
			reads[i] = p.Get(ctx, s.k.session(sessionIDs[i]))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fail("get sessions", err)
	}
	for i, cmd := range reads {
		raw, err := cmd.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return nil, fail("get session", err)
		}
		sess, err := decodeSession([]byte(raw))
		if err != nil {
			return nil, err
		}
		memos[i] = &sessionMemo{identityID: sess.IdentityID, sessRaw: raw, sess: sess}
	}
	return memos, nil
}

// sessionFromMemo finishes a check of a session checked before, from its
// memo m and the GETs of the session (sc) and its identity (ic).
func (s *Store) sessionFromMemo(ctx context.Context, sessionID string, m *sessionMemo, sc, ic *goredis.StringCmd, now time.Time) (store.Session, store.Identity, error) {
	sessRaw, err := sc.Result()
	if errors.Is(err, goredis.Nil) {
		s.forgetSession(sessionID)
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, store.Identity{}, fail("get session", err)
	}
	next, changed := *m, false
	if sessRaw != m.sessRaw {
		if next.sess, err = decodeSession([]byte(sessRaw)); err != nil {
			return store.Session{}, store.Identity{}, err
		}
		next.sessRaw, changed = sessRaw, true
	}
	if next.sess.IdentityID != m.identityID {
		// A stale entry: start again.
		s.forgetSession(sessionID)
		return s.sessionWithIdentityFirst(ctx, sessionID, now)
	}
	if ms(now) >= ms(next.sess.ExpiresAt) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	idRaw, err := ic.Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, store.Identity{}, fail("get identity", err)
	}
	if idRaw != m.idRaw {
		if next.id, err = decodeIdentity([]byte(idRaw)); err != nil {
			return store.Session{}, store.Identity{}, err
		}
		next.idRaw, changed = idRaw, true
	}
	if changed {
		s.sessionIdentity.Add(sessionID, &next)
	}
	return next.records()
}

// sessionWithIdentityFirst reads the session, then its identity, and
// remembers both.
func (s *Store) sessionWithIdentityFirst(ctx context.Context, sessionID string, now time.Time) (store.Session, store.Identity, error) {
	var m sessionMemo
	var err error
	m.sessRaw, err = s.c.Get(ctx, s.k.session(sessionID)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, store.Identity{}, fail("get session", err)
	}
	if m.sess, err = decodeSession([]byte(m.sessRaw)); err != nil {
		return store.Session{}, store.Identity{}, err
	}
	if ms(now) >= ms(m.sess.ExpiresAt) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	m.identityID = m.sess.IdentityID
	m.idRaw, err = s.c.Get(ctx, s.k.identity(m.identityID)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, store.Identity{}, fail("get identity", err)
	}
	if m.id, err = decodeIdentity([]byte(m.idRaw)); err != nil {
		return store.Session{}, store.Identity{}, err
	}
	s.sessionIdentity.Add(sessionID, &m)
	return m.records()
}

// sessionMemo is what SessionWithIdentity last read of one session. It is
// replaced, never changed, so readers share it without a lock.
type sessionMemo struct {
	identityID     string // fixed for the session's life
	sessRaw, idRaw string // the values last read ...
	sess           store.Session
	id             store.Identity // ... and their records
}

// records returns copies the caller may change.
func (m *sessionMemo) records() (store.Session, store.Identity, error) {
	sess, id := m.sess, m.id
	sess.Devices = slices.Clone(sess.Devices)
	id.Roles = slices.Clone(id.Roles)
	return sess, id, nil
}

func (s *Store) forgetSession(sessionID string) {
	s.sessionIdentity.Remove(sessionID)
}

func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	s.forgetSession(sessionID)
	sess, err := s.loadSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The token key is only removed if it still names this session.
	if err := s.c.Del(ctx, s.k.session(sessionID)).Err(); err != nil {
		return fail("delete session", err)
	}
	if err := delIfEqual.Run(ctx, s.c, []string{s.k.token(sess.TokenHash)}, sessionID).Err(); err != nil {
		return fail("delete session token", err)
	}
	return nil
}

// ---- recoveries ----

func (s *Store) StartRecovery(ctx context.Context, r store.Recovery, now time.Time) error {
	rec, err := encodeRecovery(r)
	if err != nil {
		return err
	}
	d := ttl(r.ExpiresAt.Add(store.RecoveryRetention), now)
	err = startRecovery.Run(ctx, s.c,
		[]string{s.k.recovery(r.ID), s.k.recoveryEmail(r.EmailKey)},
		r.ID, rec, d.Milliseconds(), s.k.recoveryPrefix(), s.k.recoveryEmailPrefix()).Err()
	if err != nil {
		return fail("start recovery", err)
	}
	return nil
}

func (s *Store) RecoveryByID(ctx context.Context, id string) (store.Recovery, error) {
	b, err := s.c.Get(ctx, s.k.recovery(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Recovery{}, store.ErrNotFound
	}
	if err != nil {
		return store.Recovery{}, fail("get recovery", err)
	}
	return decodeRecovery(b)
}

func (s *Store) CountAttempt(ctx context.Context, id string, maxAttempts int, now time.Time) (store.Recovery, error) {
	res, err := countAttempt.Run(ctx, s.c, []string{s.k.recovery(id)}, maxAttempts, ms(now)).Result()
	if err != nil {
		return store.Recovery{}, fail("count attempt", err)
	}
	payload, err := statusReply("count attempt", res)
	if err != nil {
		return store.Recovery{}, err
	}
	return decodeRecovery([]byte(payload))
}

func (s *Store) MarkVerified(ctx context.Context, id, newID string, expiresAt, now time.Time) error {
	d := ttl(expiresAt.Add(store.RecoveryRetention), now)
	word, err := markVerified.Run(ctx, s.c,
		[]string{s.k.recovery(id), s.k.recovery(newID)},
		id, newID, ms(expiresAt), ms(now), d.Milliseconds(), s.k.recoveryEmailPrefix()).Text()
	if err != nil {
		return fail("mark verified", err)
	}
	if err := status(word); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("recovery %q: %w", newID, err)
		}
		return err
	}
	return nil
}

func (s *Store) CompleteRecovery(ctx context.Context, id, passwordHash string, now time.Time) (store.Identity, error) {
	res, err := completeRecovery.Run(ctx, s.c, []string{s.k.recovery(id)},
		id, passwordHash, ms(now), s.k.identityPrefix(), s.k.recoveryEmailPrefix(), s.k.recoveryPrefix()).Result()
	if err != nil {
		return store.Identity{}, fail("complete recovery", err)
	}
	payload, err := statusReply("complete recovery", res)
	if err != nil {
		return store.Identity{}, err
	}
	return decodeIdentity([]byte(payload))
}
