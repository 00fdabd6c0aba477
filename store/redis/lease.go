package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// takeLease: KEYS lease; ARGV owner, ttl ms. The holder after the call.
var takeLease = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return cur
`)

// releaseLease: KEYS lease; ARGV owner.
var releaseLease = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

func (s *Store) leaseKey(name string) string { return s.k.p + "lease:" + name }

// TakeLease implements store.Leases with a key that expires (PX).
func (s *Store) TakeLease(ctx context.Context, name, owner string, ttl time.Duration) (string, error) {
	holder, err := takeLease.Run(ctx, s.c, []string{s.leaseKey(name)}, owner, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fail("take lease", err)
	}
	return holder, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := releaseLease.Run(ctx, s.c, []string{s.leaseKey(name)}, owner).Err(); err != nil {
		return fail("release lease", err)
	}
	return nil
}
