-- sign_in.lua — log-in attempts with a growing back-off, on Redis' clock.
--
-- KEYS[1]  the record of one username or one address (a hash: count, until_ms)
-- ARGV[1]  'attempt' — refuse while locked; otherwise count this attempt
--          'check'   — refuse while locked; count nothing
--          'fail'    — count a failure
-- ARGV[2]  attempts (or failures) let through before the back-off starts
-- ARGV[3]  longest back-off in milliseconds
-- ARGV[4]  how long the record lives after the last count, in milliseconds
--
-- Returns the milliseconds to wait (0: go ahead). Past the free ones, each
-- count locks the record for 1 s, 2 s, 4 s … up to the longest back-off, so
-- guessing slows down geometrically while a person who mistyped twice never
-- notices. A refused attempt is not counted: hammering does not lengthen the
-- lock, and it costs no hashing either, because this runs first.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until_ms') or '0')
if locked_until > now then
  return locked_until - now
end
if ARGV[1] == 'check' then
  return 0
end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local free = tonumber(ARGV[2])
if count > free then
  local wait = math.min(1000 * 2 ^ math.min(count - free - 1, 40), tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'until_ms', string.format('%d', now + wait))
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
