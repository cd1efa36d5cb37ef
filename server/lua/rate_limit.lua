-- rate_limit.lua — GCRA (generic cell rate algorithm) over several buckets at once.
--
-- KEYS[i]        bucket i (its theoretical arrival time, in microseconds)
-- ARGV[2i-1]     emission interval of bucket i in microseconds (1e6 / rate per second)
-- ARGV[2i]       burst tolerance of bucket i in microseconds (interval * burst)
--
-- Returns 0 when the request is allowed (every bucket is charged), otherwise the
-- microseconds to wait before a retry can pass (no bucket is charged).
--
-- Invariant: over any window, a bucket admits at most burst + window * rate
-- requests, across every server instance, on Redis' clock. A refused request
-- costs nothing, so hammering does not extend one's own wait.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local next_tat = {}
local wait = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  local candidate = tat + interval
  if candidate - now > tolerance then
    wait = math.max(wait, candidate - now - tolerance)
  end
  next_tat[i] = candidate
end
if wait > 0 then
  return math.ceil(wait)
end
for i = 1, #KEYS do
  -- '%.0f': the integer digits exactly (tostring would round to 14 digits).
  redis.call('SET', KEYS[i], string.format('%.0f', next_tat[i]),
    'PX', math.max(1, math.ceil((next_tat[i] - now) / 1000)))
end
return 0
