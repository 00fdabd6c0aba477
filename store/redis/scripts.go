package redis

import goredis "github.com/redis/go-redis/v9"

// Lua scripts for every read-modify-write. Each touches keys of one hash
// slot only ({auth} for identities and recoveries, {bo} for the back office
// and its audit log (those scripts are beside their domain, in
// reference.go and audit.go), a single key otherwise), so they run
// unchanged on Redis Cluster. Keys derived from record content
// (email index, identity of a recovery) cannot be declared up front; they are
// built from a prefix passed in ARGV and share the {auth} tag.
//
// Records are JSON. cjson re-encodes an empty array as {} and numbers with
// 14 significant digits; the Go decoder accepts both (see record.go), and
// times are unix milliseconds (13 digits) so they survive exactly.

// createIdentity: KEYS identity, email index, identity-id set; ARGV id, record.
var createIdentity = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SETNX', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`)

// identityByEmail: KEYS email index; ARGV identity key prefix.
var identityByEmail = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
`)

// setIdentityState: KEYS identity; ARGV state, now ms.
var setIdentityState = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local i = cjson.decode(v)
if i.state ~= ARGV[1] then i.generation = (tonumber(i.generation) or 0) + 1 end
i.state = ARGV[1]
i.updated_at = tonumber(ARGV[2])
local out = cjson.encode(i)
redis.call('SET', KEYS[1], out)
return out
`)

// rehashPassword: KEYS identity; ARGV old hash, new hash.
var rehashPassword = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 'NOTFOUND' end
local i = cjson.decode(v)
if i.password_hash ~= ARGV[1] then return 'CONFLICT' end
i.password_hash = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(i))
return 'OK'
`)

// startRecovery: KEYS recovery, email index (a list of recovery ids, oldest
// first); ARGV id, record, ttl ms, recovery key prefix, email index prefix.
// Keeps at most two live recoveries per address: the new one and the best
// other one (verified first, then the one expiring last, then the one
// started last); voids the rest.
var startRecovery = goredis.NewScript(`
local prev = redis.call('GET', KEYS[1])
if prev then
  -- a reused id: unhook it from the address that indexed it
  redis.call('LREM', ARGV[5] .. cjson.decode(prev).email_key, 0, ARGV[1])
end
local keep, keepVerified, keepExp = nil, false, -1
local void = {}
for _, oid in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  if oid ~= ARGV[1] then
    local v = redis.call('GET', ARGV[4] .. oid)
    if not v then
      redis.call('LREM', KEYS[2], 0, oid)
    else
      local r = cjson.decode(v)
      local verified = r.state == 'verified'
      if keep == nil or (verified and not keepVerified) or (verified == keepVerified and r.expires_at >= keepExp) then
        if keep then table.insert(void, keep) end
        keep, keepVerified, keepExp = oid, verified, r.expires_at
      else
        table.insert(void, oid)
      end
    end
  end
end
for _, oid in ipairs(void) do
  redis.call('DEL', ARGV[4] .. oid)
  redis.call('LREM', KEYS[2], 0, oid)
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[1])
-- the index lives as long as its longest-lived member
local ttl = tonumber(ARGV[3])
if keep then
  local kt = redis.call('PTTL', ARGV[4] .. keep)
  if kt > ttl then ttl = kt end
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

// countAttempt: KEYS recovery; ARGV max attempts, now ms.
var countAttempt = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return {'NOTFOUND'} end
local r = cjson.decode(v)
if tonumber(ARGV[2]) >= r.expires_at then return {'EXPIRED'} end
if r.state ~= 'pending' then return {'WRONGSTATE'} end
if r.attempts >= tonumber(ARGV[1]) then return {'EXHAUSTED'} end
r.attempts = r.attempts + 1
local out = cjson.encode(r)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return {'OK', out}
`)

// markVerified: KEYS old recovery, new recovery; ARGV old id, new id,
// new expiry ms, now ms, ttl ms, email index prefix.
var markVerified = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 'NOTFOUND' end
local r = cjson.decode(v)
if tonumber(ARGV[4]) >= r.expires_at then return 'EXPIRED' end
if r.state ~= 'pending' then return 'WRONGSTATE' end
if KEYS[1] ~= KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 'CONFLICT' end
r.id = ARGV[2]
r.state = 'verified'
r.expires_at = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], cjson.encode(r), 'PX', ARGV[5])
local idx = ARGV[6] .. r.email_key
if redis.call('LREM', idx, 0, ARGV[1]) > 0 then
  redis.call('RPUSH', idx, ARGV[2])
  if redis.call('PTTL', idx) < tonumber(ARGV[5]) then redis.call('PEXPIRE', idx, ARGV[5]) end
end
return 'OK'
`)

// completeRecovery: KEYS recovery; ARGV recovery id, password hash, now ms,
// identity key prefix, email index prefix, recovery key prefix. A reset ends
// every recovery of the address.
var completeRecovery = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return {'NOTFOUND'} end
local r = cjson.decode(v)
if tonumber(ARGV[3]) >= r.expires_at then return {'EXPIRED'} end
if r.state ~= 'verified' then return {'WRONGSTATE'} end
redis.call('DEL', KEYS[1])
local idx = ARGV[5] .. r.email_key
for _, oid in ipairs(redis.call('LRANGE', idx, 0, -1)) do redis.call('DEL', ARGV[6] .. oid) end
redis.call('DEL', idx)
if type(r.identity_id) ~= 'string' or r.identity_id == '' then return {'NOTFOUND'} end
local ik = ARGV[4] .. r.identity_id
local iv = redis.call('GET', ik)
if not iv then return {'NOTFOUND'} end
local i = cjson.decode(iv)
if i.state ~= 'active' then return {'NOTFOUND'} end
i.password_hash = ARGV[2]
i.generation = (tonumber(i.generation) or 0) + 1
i.updated_at = tonumber(ARGV[3])
local out = cjson.encode(i)
redis.call('SET', ik, out)
return {'OK', out}
`)

// hit: KEYS counter; ARGV window ms. The TTL is set whenever the key has
// none, not only when INCR returns 1: Undo can bring a running window back
// to 0 and that must not restart it.
var hit = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// undo: KEYS counter.
var undo = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > 0 then redis.call('DECR', KEYS[1]) end
return 0
`)

// delIfEqual: KEYS key; ARGV value. Removes an index entry only if it still
// points where we think.
var delIfEqual = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
