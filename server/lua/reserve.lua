-- reserve.lua — take units of a sale for a buyer and enqueue the order, atomically
-- (after shared/gcra.lua, whose `charge` it calls for the buyer's rate buckets).
--
-- KEYS[1] stock    integer: units left
-- KEYS[2] buyers   hash: user id -> units held in active orders
-- KEYS[3] seq      hash: user id -> reservations ever made (order sequence)
-- KEYS[4] stream   the sale's order stream
-- KEYS[5] meta     hash: starts_ms, ends_ms, paused ("0"/"1"), limit, pay_window_ms,
--                  price_cents (per unit); sold_out_ms, written here when the
--                  last unit goes (the instant shoppers are shown)
-- KEYS[6] queued   hash: order id -> "user:units:price_cents:created_ms:pay_before_ms"
--                  until the consumer has persisted the order
-- KEYS[7] ticket   string: the order id this buy ticket reserved, while the ticket lives
-- KEYS[8] the buyer's rate bucket, KEYS[9] the sale's rate bucket (see gcra.lua)
-- KEYS[10] cool     hash: user id -> ms from which a buyer whose order lapsed or
--                  was cancelled may reserve again (written by return_units.lua)
-- KEYS[11] line bought  hash: admission batch -> admitted shoppers of a queue sale
--                  who reserved (their first reservation only)
-- (all carry the sale's hash tag, so this runs in one cluster slot)
--
-- ARGV[1] user id
-- ARGV[2] order id (made by the server, returned to the buyer at once)
-- ARGV[3] units (>= 1)
-- ARGV[4] milliseconds the ticket has left (>= 1)
-- ARGV[5], ARGV[6] the buyer's bucket: emission interval, burst tolerance (µs)
-- ARGV[7], ARGV[8] the sale's bucket: emission interval, burst tolerance (µs)
-- ARGV[9] reservations a buyer may make beyond the sale's limit (lapsed or
--         cancelled ones count: the `seq` hash is the tally)
-- ARGV[10] the admission batch of a queue sale's buyer ("" in a race sale)
--
-- Returns one of
--   {"ok", stream message id, created_ms, pay_before_ms, seq}
--   {"again", order id}   (this ticket reserved that order already: a retried buy)
--   {"rate_limited", microseconds to wait}   (nothing else was done)
--   {"cooling_down", milliseconds to wait}   (this buyer's order lapsed or was
--                                             cancelled a moment ago)
--   {"not_started"} | {"ended"} | {"paused"} | {"sold_out"} | {"limit_reached"}
--   {"reservations_used", reservations made}   (the buyer's allowance is spent)
--   {"unknown_sale"}   (the sale was never loaded into Redis)
--
-- Invariant: stock never goes below zero, no buyer holds more than `limit` or
-- reserves more than `limit` + ARGV[9] times, and
-- every decrement has exactly one stream message — the reservation and the order
-- message cannot part. One ticket reserves at most once: its retries (an answer
-- lost on the way) get the same order back, never `limit_reached`. Time is
-- Redis' own clock, the same for every instance. Every attempt of a known sale
-- that is not a retry is charged to the buyer's and the sale's rate buckets,
-- as the CAPTCHA and ticket requests are (rate_limit.lua): one round trip
-- decides the whole buy.

local earlier = redis.call('GET', KEYS[7])
if earlier then
  return {'again', earlier}
end
local meta = redis.call('HMGET', KEYS[5], 'starts_ms', 'ends_ms', 'paused', 'limit', 'pay_window_ms',
  'price_cents')
if not meta[1] then
  return {'unknown_sale'}
end
local time = redis.call('TIME')
local wait = charge({KEYS[8], KEYS[9]}, {ARGV[5], ARGV[6], ARGV[7], ARGV[8]},
  tonumber(time[1]) * 1000000 + tonumber(time[2]))
if wait > 0 then
  return {'rate_limited', tostring(wait)}
end
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now >= tonumber(meta[2]) then
  return {'ended'}
end
if meta[3] == '1' then
  return {'paused'}
end
if now < tonumber(meta[1]) then
  return {'not_started'}
end

local cool_until = tonumber(redis.call('HGET', KEYS[10], ARGV[1]) or '0')
if now < cool_until then
  return {'cooling_down', tostring(cool_until - now)}
end
local units = tonumber(ARGV[3])
local limit = tonumber(meta[4])
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held + units > limit then
  return {'limit_reached'}
end
local made = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if made >= limit + tonumber(ARGV[9]) then
  return {'reservations_used', tostring(made)}
end
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock < units then
  return {'sold_out'}
end

redis.call('DECRBY', KEYS[1], units)
if stock == units then
  redis.call('HSET', KEYS[5], 'sold_out_ms', now)
end
redis.call('HINCRBY', KEYS[2], ARGV[1], units)
local seq = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
if seq == 1 and ARGV[10] ~= '' then
  redis.call('HINCRBY', KEYS[11], ARGV[10], 1)
end
local pay_before = now + tonumber(meta[5])
local price = tonumber(meta[6]) * units
local message_id = redis.call('XADD', KEYS[4], '*',
  'order_id', ARGV[2], 'user_id', ARGV[1], 'units', ARGV[3], 'seq', seq,
  'price_cents', price, 'created_ms', now, 'pay_before_ms', pay_before)
redis.call('HSET', KEYS[6], ARGV[2],
  ARGV[1] .. ':' .. units .. ':' .. price .. ':' .. now .. ':' .. pay_before)
redis.call('SET', KEYS[7], ARGV[2], 'PX', ARGV[4])
return {'ok', message_id, tostring(now), tostring(pay_before), tostring(seq)}
