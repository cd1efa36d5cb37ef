-- return_units.lua — give the units of an expired or cancelled order back, once.
--
-- KEYS[1] stock     integer: units left
-- KEYS[2] buyers    hash: user id -> units held in active orders
-- KEYS[3] returned  set: ids of orders already returned
-- KEYS[4] meta      hash: the sale's rules (present while Redis holds the sale);
--                   its sold_out_ms goes with the return: units are for sale again
-- KEYS[5] cool      hash: user id -> ms from which the buyer may reserve again
--
-- ARGV[1] order id
-- ARGV[2] user id
-- ARGV[3] units
-- ARGV[4] the notice channel, ARGV[5] the message that clears the sale's flag
-- ARGV[6] milliseconds the buyer must wait before reserving this sale again
--         (0: no wait — a dead letter's units, which were never the buyer's fault)
--
-- Returns 1 when the units went back, 0 when this order had already returned
-- them (a retry after a crash, or two sweepers racing), -1 when Redis has lost
-- the sale (nothing is written: the caller rebuilds it first, which counts this
-- order's units as still held).
--
-- Invariant: an order returns its units at most once, so stock left + units held
-- by active orders stays equal to the sale's stock; and the notice that clears
-- every instance's sold-out flag goes out with the return, in the same script,
-- so no crash can separate the two. The notice goes only when no unit was left
-- before this return (no instance can have flagged the sale otherwise): a
-- cancel-and-rebuy loop on a sale with units left costs the fleet nothing.

if redis.call('EXISTS', KEYS[4]) == 0 then
  return -1
end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then
  return 0
end
local units = tonumber(ARGV[3])
local stock_before = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('INCRBY', KEYS[1], units)
redis.call('HDEL', KEYS[4], 'sold_out_ms')
local held = redis.call('HINCRBY', KEYS[2], ARGV[2], -units)
if held <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
local cooldown = tonumber(ARGV[6])
if cooldown > 0 then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('HSET', KEYS[5], ARGV[2], now + cooldown)
end
if stock_before <= 0 then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 1
