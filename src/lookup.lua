-- WatchLLM's lookup: everything a request needs from Redis in one atomic round trip (EVALSHA,
-- EVAL when the script is not loaded yet). src/lookup_plan.rs builds ARGV and decodes the reply.
--
-- It reads the project's cache state (generation, purge epoch), syncs the request budgets (adds
-- what the isolate admitted since its last sync, allows a new lease up to the limit), and, if the
-- request is admitted and reads the cache: the exact entry with its remaining TTL, the semantic
-- buckets with the first entries they point at, and, when the exact entry is missing, the
-- in-flight lock. Entry, bucket and lock keys are derived from the generation read here (the same
-- names as src/keys.rs), so a purge can never race a lookup.
--
-- ARGV: 1 project, 2 endpoint, 3 entry hash, 4 flags ("r" read the cache, "l" take the lock),
--       5 lock holder, 6 lock ttl ms, 7 entries fetched per bucket, 8 now (Unix ms), 9 the
--       oldest entry the request accepts, in ms of age ("" for any),
--       10-15 rate budget: key, report, want, limit, ttl secs, need (1: this request needs the
--       lease, 0: the isolate still has one), 16-21 quota budget: the same ("" key: none),
--       22.. bucket suffixes.
-- Entries are stored as "<stored at ms>|<expires at ms>|<JSON>" (src/cache_entry.rs): one that is
-- past its expiry, or older than the request accepts, is returned (for stale-if-error) but does
-- not count as found, so the lock is taken.
-- Reply: generation, purge epoch, rate allowed, rate count, quota allowed, quota count,
--        admitted (1/0); if admitted and reading: entry (or nil), its PTTL, lock (1 taken, 0 held
--        by another request, -1 not asked), then per bucket its fields and the entries of the
--        first fields.
local project, endpoint, hash, flags = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local state = redis.call('HMGET', 'wl:p:' .. project, 'gen', 'l1')
local gen = tonumber(state[1]) or 0

-- Adds the report, then allows up to `want` more requests without passing the limit.
local function sync(at)
  local key, report, want, limit, ttl = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]), ARGV[at + 4]
  if key == '' then return {1, 0, 0} end
  local count = redis.call('INCRBY', key, report)
  -- Only a counter this call created (nothing counted before the report) needs its expiry.
  if count == report then redis.call('EXPIRE', key, ttl, 'NX') end
  local allowed = math.max(0, math.min(want, limit - count))
  local need = tonumber(ARGV[at + 5])
  return {allowed >= need and 1 or 0, allowed, count}
end

local rate = sync(10)
local quota = sync(16)
local admitted = rate[1] == 1 and quota[1] == 1
local reply = {gen, tonumber(state[2]) or 0, rate[2], rate[3], quota[2], quota[3], admitted and 1 or 0}
if not admitted or not string.find(flags, 'r', 1, true) then return reply end

local prefix = 'wl:c2:' .. project .. ':g' .. gen .. ':'
local key = prefix .. endpoint .. ':' .. hash
local entry = redis.call('GET', key)
local now, max_age = tonumber(ARGV[8]), tonumber(ARGV[9])
local usable = false
if entry then
  local stored, expires = string.match(entry, '^(%d+)|(%d+)|')
  stored, expires = tonumber(stored), tonumber(expires)
  usable = stored ~= nil and expires ~= nil and expires > now and (max_age == nil or now - stored <= max_age)
end
reply[8] = entry or false
reply[9] = entry and redis.call('PTTL', key) or -2
reply[10] = -1
if not usable and string.find(flags, 'l', 1, true) then
  reply[10] = redis.call('SET', key .. ':inflight', ARGV[5], 'NX', 'PX', ARGV[6]) and 1 or 0
end
local fetch = tonumber(ARGV[7])
for i = 22, #ARGV do
  local fields = redis.call('HGETALL', 'wl:s2:' .. project .. ':g' .. gen .. ':' .. ARGV[i])
  local entries = {}
  for j = 1, math.min(#fields, 2 * fetch), 2 do
    entries[#entries + 1] = redis.call('GET', prefix .. 'chat:' .. fields[j]) or false
  end
  reply[#reply + 1] = fields
  reply[#reply + 1] = entries
end
return reply
