-- line_join.lua — put an account in a queue sale's line, once (one shard).
--
-- KEYS[1] entries  hash: user id -> "joined_ms:kind:n" (kind `p`: before the
--                  start, drawn at the start; `a`: after, first come first served;
--                  n: the shard's count of that kind when this one joined)
-- KEYS[2] after    sorted set: post-start entrants, score joined_ms, member the
--                  user id zero-padded to 20 digits (so ties go by id)
-- KEYS[3] closed   set by line_close.lua when the draw took the shard's entries
-- KEYS[4] counts   hash: `p`, `a` -> entrants of each kind in this shard
-- KEYS[5] seconds  hash: `<kind>:<second ms>` -> entrants who joined then
-- KEYS[6] addrs    sorted set: client address -> entrants who joined from it
-- (all carry the shard's hash tag `{q:<sale>:<shard>}`)
--
-- ARGV[1] user id
-- ARGV[2] the sale's start (ms)
-- ARGV[3] when the line's keys may go (ms): after the sale and its payments
-- ARGV[4] the client address (IPv6 by its /64)
-- ARGV[5] empty, or when the account joined (ms) by its signed entry, which
--         Redis lost: the entry is written back with that time
--
-- Returns {"new", entry} or {"again", entry} (the account's earlier entry).
--
-- Invariant: one entry per account, never changed; an entry is `p` only if it
-- was written before the draw closed the shard and, on this node's clock (or
-- by a signed entry written back), before the start, so the draw, which closes
-- first and reads after, sees every `p`.
-- Constant time.

local earlier = redis.call('HGET', KEYS[1], ARGV[1])
if earlier then
  return {'again', earlier}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ARGV[5] ~= '' then
  now = math.min(now, tonumber(ARGV[5]))
end
local kind = 'p'
if now >= tonumber(ARGV[2]) or redis.call('EXISTS', KEYS[3]) == 1 then
  kind = 'a'
end
local n = redis.call('HINCRBY', KEYS[4], kind, 1)
local entry = now .. ':' .. kind .. ':' .. n
redis.call('HSET', KEYS[1], ARGV[1], entry)
if kind == 'a' then
  redis.call('ZADD', KEYS[2], now, string.format('%020d', tonumber(ARGV[1])))
end
redis.call('HINCRBY', KEYS[5], kind .. ':' .. (now - now % 1000), 1)
redis.call('ZINCRBY', KEYS[6], 1, ARGV[4])
-- The shard's first entrant of a kind creates the keys it writes: they get
-- their end of life then, once.
if n == 1 then
  for i = 1, 6 do
    redis.call('PEXPIREAT', KEYS[i], ARGV[3])
  end
end
return {'new', entry}
