-- gcra.lua — GCRA (generic cell rate algorithm) over several buckets at once.
-- Not a script of its own: the scripts that charge rate buckets
-- (rate_limit.lua, reserve.lua) start with this text.
--
-- charge(buckets, rates, now_us)
--   buckets   keys, one per bucket (its theoretical arrival time, in microseconds)
--   rates     for bucket i, rates[2i-1] = emission interval in microseconds
--             (1e6 / rate per second), rates[2i] = burst tolerance in
--             microseconds (interval * burst)
--   now_us    Redis' clock
-- Returns 0 when the request is allowed (every bucket is charged), otherwise the
-- microseconds to wait before a retry can pass (no bucket is charged).
--
-- Invariant: over any window, a bucket admits at most burst + window * rate
-- requests, across every server instance, on Redis' clock. A refused request
-- costs nothing, so hammering does not extend one's own wait.

local function charge(buckets, rates, now)
  local next_tat = {}
  local wait = 0
  for i = 1, #buckets do
    local interval = tonumber(rates[2 * i - 1])
    local tolerance = tonumber(rates[2 * i])
    local tat = math.max(tonumber(redis.call('GET', buckets[i]) or '0'), now)
    local candidate = tat + interval
    if candidate - now > tolerance then
      wait = math.max(wait, candidate - now - tolerance)
    end
    next_tat[i] = candidate
  end
  if wait > 0 then
    return math.ceil(wait)
  end
  for i = 1, #buckets do
    -- '%.0f': the integer digits exactly (tostring would round to 14 digits).
    redis.call('SET', buckets[i], string.format('%.0f', next_tat[i]),
      'PX', math.max(1, math.ceil((next_tat[i] - now) / 1000)))
  end
  return 0
end
