-- holders.lua — who holds units of a sale that is sold out, read at one instant.
--
-- KEYS[1] stock    integer: units left
-- KEYS[2] buyers   hash: user id -> units held in active orders
-- (both carry the sale's hash tag: one cluster slot)
--
-- ARGV[1] the most holders worth answering
--
-- Returns the buyers' user ids, or false when units are left (a return came
-- in since the sale sold out: whoever wins it next is not in any list read now)
-- or when there are more than ARGV[1] buyers.
--
-- Invariant: the list answered holds every buyer who can have won a unit
-- until the next return, and a return clears every instance's flag, list and
-- all (return_units.lua).

if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  return false
end
if redis.call('HLEN', KEYS[2]) > tonumber(ARGV[1]) then
  return false
end
return redis.call('HKEYS', KEYS[2])
