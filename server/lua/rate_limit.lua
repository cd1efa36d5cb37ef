-- rate_limit.lua — charge one request to several rate buckets (after shared/gcra.lua).
--
-- KEYS[i]        bucket i
-- ARGV[2i-1]     emission interval of bucket i in microseconds
-- ARGV[2i]       burst tolerance of bucket i in microseconds
--
-- Returns 0 when the request is allowed (every bucket is charged), otherwise the
-- microseconds to wait before a retry can pass (no bucket is charged).
--
-- Invariant (gcra.lua's): over any window, a bucket admits at most burst +
-- window * rate requests, across every server instance, on Redis' clock.

local time = redis.call('TIME')
return charge(KEYS, ARGV, tonumber(time[1]) * 1000000 + tonumber(time[2]))
