package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/backoffice"
)

// ---- back office: the shared records (store/backoffice) on {bo} hashes ----

// boBackend maps the records' hashes to <p>{bo}:<name>, all on one slot,
// so a commit is one script.
type boBackend struct {
	s *Store
	// names holds the key of every fixed hash and sequence, built once:
	// joining them on every read and commit was an allocation per key.
	names map[string]string
	// head is a commit's first keys (commitBackOffice), written the same
	// way once; written is the outbox's notification channel.
	head    []string
	written string
}

func newBoBackend(s *Store) boBackend {
	b := boBackend{s: s, names: map[string]string{}}
	for _, n := range []string{backoffice.KeyAccounts, backoffice.KeyGrants, backoffice.KeyGroups, backoffice.KeyGroupNames,
		backoffice.KeyMembers, backoffice.KeyRiskRules, backoffice.KeyOrderRiskRules, backoffice.KeyRequests,
		backoffice.SeqGroups, backoffice.SeqRequests, backoffice.KeyOutbox, backoffice.SeqOutbox, backoffice.KeyOutboxMeta,
		backoffice.KeyMeta, backoffice.KeyOrders, backoffice.KeyOrderReqIDs, backoffice.KeyOpenOrders, backoffice.SeqOrders,
		backoffice.KeyMarketDays} {
		b.names[n] = s.k.backOffice() + n
	}
	b.head = s.auditKeys(b.key(backoffice.KeyOutbox), b.key(backoffice.SeqOutbox))
	b.written = s.k.outboxWritten()
	return b
}

func (b boBackend) key(name string) string {
	if k, ok := b.names[name]; ok {
		return k
	}
	return b.s.k.backOffice() + name
}

func (b boBackend) Get(ctx context.Context, c backoffice.Cell) (backoffice.Value, error) {
	v, err := b.s.c.HGet(ctx, b.key(c.Key), c.Field).Result()
	if errors.Is(err, goredis.Nil) {
		return backoffice.Value{}, nil
	}
	if err != nil {
		return backoffice.Value{}, fail("back office get", err)
	}
	return backoffice.Value{S: v, OK: true}, nil
}

func (b boBackend) GetMany(ctx context.Context, key string, fields []string) ([]backoffice.Value, error) {
	vals, err := b.s.c.HMGet(ctx, b.key(key), fields...).Result()
	if err != nil {
		return nil, fail("back office get many", err)
	}
	out := make([]backoffice.Value, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = backoffice.Value{S: s, OK: true}
		}
	}
	return out, nil
}

func (b boBackend) GetAllOf(ctx context.Context, keys []string) ([]map[string]string, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(keys))
	_, err := b.s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, b.key(k))
		}
		return nil
	})
	if err != nil {
		return nil, fail("back office get all of", err)
	}
	out := make([]map[string]string, len(keys))
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

func (b boBackend) GetCells(ctx context.Context, cells []backoffice.Cell) ([]backoffice.Value, error) {
	cmds := make([]*goredis.StringCmd, len(cells))
	_, err := b.s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range cells {
			cmds[i] = p.HGet(ctx, b.key(c.Key), c.Field)
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fail("back office get cells", err)
	}
	out := make([]backoffice.Value, len(cells))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return nil, fail("back office get cells", err)
		default:
			out[i] = backoffice.Value{S: v, OK: true}
		}
	}
	return out, nil
}

func (b boBackend) NextN(ctx context.Context, seq string, n int64) (int64, error) {
	id, err := b.s.c.IncrBy(ctx, b.key(seq), n).Result()
	if err != nil {
		return 0, fail("back office next ids", err)
	}
	return id, nil
}

func (b boBackend) GetAll(ctx context.Context, key string) (map[string]string, error) {
	m, err := b.s.c.HGetAll(ctx, b.key(key)).Result()
	if err != nil {
		return nil, fail("back office get all", err)
	}
	return m, nil
}

func (b boBackend) Next(ctx context.Context, seq string) (int64, error) {
	id, err := b.s.c.Incr(ctx, b.key(seq)).Result()
	if err != nil {
		return 0, fail("back office next id", err)
	}
	return id, nil
}

func (b boBackend) Top(ctx context.Context, seq string) (int64, error) {
	id, err := b.s.c.Get(ctx, b.key(seq)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("back office sequence", err)
	}
	return id, nil
}

func (b boBackend) HasReferenceValue(ctx context.Context, kind, value string) (bool, error) {
	return b.s.HasReferenceValue(ctx, kind, value)
}

// commitBackOffice: KEYS audit hash, audit sequence, outbox hash, outbox
// sequence, then the record hashes; ARGV the channel to PUBLISH the last
// outbox ID on when entries are appended (empty for none: outboxWatch), the
// number of checks, each as
// (key index, field, present 0|1, value), the number of writes, each as
// (key index, field, S|D, value), the number of outbox entries and each
// entry, then the audit entries. Either every check holds and everything
// is written, and the reply is OK, the last outbox ID (0: none) and the
// audit IDs, or nothing is and the reply is STALE.
var commitBackOffice = goredis.NewScript(auditLua + `
local notify = ARGV[1]
local a = 2
local n = tonumber(ARGV[a]); a = a + 1
for _ = 1, n do
  local cur = redis.call('HGET', KEYS[tonumber(ARGV[a])], ARGV[a+1])
  if ARGV[a+2] == '1' then
    if cur ~= ARGV[a+3] then return {'STALE'} end
  elseif cur then
    return {'STALE'}
  end
  a = a + 4
end
n = tonumber(ARGV[a]); a = a + 1
for _ = 1, n do
  if ARGV[a+2] == 'D' then
    redis.call('HDEL', KEYS[tonumber(ARGV[a])], ARGV[a+1])
  else
    redis.call('HSET', KEYS[tonumber(ARGV[a])], ARGV[a+1], ARGV[a+3])
  end
  a = a + 4
end
n = tonumber(ARGV[a]); a = a + 1
local last = 0
for _ = 1, n do
  last = redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[3], last, ARGV[a])
  a = a + 1
end
local out = {'OK', last}
for i = a, #ARGV do out[#out+1] = appendAudit(ARGV[i]) end
-- A wake-up only: pcall, so a refusal (an ACL without the channel) fails
-- nothing, after the writes above.
if notify ~= '' and last ~= 0 then redis.pcall('PUBLISH', notify, last) end
return out
`)

func (b boBackend) Commit(ctx context.Context, c backoffice.Commit) (backoffice.Committed, error) {
	keys := append(make([]string, 0, len(b.head)+4), b.head...)
	// A key's index is passed as an int: the same bytes on the wire as its
	// decimal string, and an int below 256 is boxed without allocating.
	// A commit names a few hashes: a search of them, not a map.
	var named [8]string
	names := named[:0] // keys[len(b.head)+i] is hash names[i]
	keyIndex := func(name string) int {
		for i, n := range names {
			if n == name {
				return len(b.head) + i + 1
			}
		}
		names = append(names, name)
		keys = append(keys, b.key(name))
		return len(keys)
	}
	args := make([]any, 0, 4+4*(len(c.Checks)+len(c.Writes))+len(c.Outbox)+len(c.Audit))
	notify := ""
	if c.Notify {
		notify = b.written
	}
	args = append(args, notify, len(c.Checks))
	for _, ch := range c.Checks {
		present := "0"
		if ch.Want.OK {
			present = "1"
		}
		args = append(args, keyIndex(ch.Key), ch.Field, present, ch.Want.S)
	}
	args = append(args, len(c.Writes))
	for _, w := range c.Writes {
		op := "S"
		if w.Delete {
			op = "D"
		}
		args = append(args, keyIndex(w.Key), w.Field, op, w.Value)
	}
	args = append(args, len(c.Outbox))
	for _, e := range c.Outbox {
		args = append(args, e)
	}
	entries := make([]string, len(c.Audit))
	for i, e := range c.Audit {
		s, err := encodeAudit(e)
		if err != nil {
			return backoffice.Committed{}, err
		}
		entries[i] = s
		args = append(args, s)
	}
	res, err := commitBackOffice.Run(ctx, b.s.c, keys, args...).Slice()
	if err != nil {
		// The script may have reached the server (a timeout waiting for the
		// reply, a connection broken after the write): it may run yet.
		return backoffice.Committed{}, fail("back office commit", fmt.Errorf("%w: %w", store.ErrOutcomeUnknown, err))
	}
	if len(res) == 0 {
		return backoffice.Committed{}, fail("back office commit", errors.New("empty reply"))
	}
	if word, _ := res[0].(string); word == "STALE" {
		return backoffice.Committed{}, backoffice.ErrStale
	} else if word != "OK" || len(res) != 2+len(entries) {
		return backoffice.Committed{}, fail("back office commit", fmt.Errorf("unexpected reply %v", res))
	}
	last, _ := res[1].(int64)
	out := backoffice.Committed{Audit: make([]store.AuditEntry, len(entries)), LastOutbox: last}
	for i, s := range entries {
		id, _ := res[2+i].(int64)
		e, err := decodeAudit(id, s)
		if err != nil {
			return backoffice.Committed{}, err
		}
		out.Audit[i] = e
	}
	return out, nil
}
