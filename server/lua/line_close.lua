-- line_close.lua — close a shard of a queue sale's line to pre-start entries and
-- read its entries, for the draw.
--
-- KEYS[1] closed   the flag line_join.lua reads
-- KEYS[2] entries  hash: user id -> "joined_ms:kind:n"
-- (both carry the shard's hash tag)
--
-- ARGV[1] the sale's start (ms)
-- ARGV[2] when the keys may go (ms)
--
-- Returns {"early"} while this node's clock is before the start (nothing is
-- changed), else {"closed", user id, entry, user id, entry, ...}.
--
-- Invariant: once this has answered "closed", no `p` entry is added to the
-- shard, so every draw of the sale reads the same pre-start entries.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now < tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[1]) == 0 then
  return {'early'}
end
redis.call('SET', KEYS[1], '1', 'PXAT', ARGV[2])
local reply = {'closed'}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries do
  reply[#reply + 1] = entries[i]
end
return reply
