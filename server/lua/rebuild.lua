-- rebuild.lua — rebuild a sale in Redis from Postgres' books after Redis lost it.
--
-- KEYS[1] stock    integer: units left
-- KEYS[2] meta     hash: the sale's rules (as `SaleStock::load_rules` writes them)
-- KEYS[3] buyers   hash: user id -> units held in active orders
-- KEYS[4] seq      hash: user id -> reservations ever made
-- KEYS[5] stream   the sale's order stream (its consumer group is recreated)
-- KEYS[6] cool     hash: user id -> ms from which the buyer may reserve again
--
-- ARGV[1] units left: stock - units of active orders - units owed back by closed ones
-- ARGV[2] the consumer group's name
-- ARGV[3] how many meta fields follow (n), then n pairs of field, value
--         (read by rules_from_argv, lua/shared/sale_rules.lua)
-- then    user id, units held, highest seq, cool-down end (ms, 0: none) — four
--         values per buyer
--
-- Returns 1 when the sale was rebuilt, 0 when it was there already (another
-- instance was first, or nothing was lost): then nothing is written.
--
-- Invariant: all or nothing, once. Many instances may notice the loss at the same
-- moment; the first script to run writes the whole sale, every later one sees
-- the meta hash and writes nothing, so no unit is counted twice.

if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local meta, first_buyer = rules_from_argv()
redis.call('HSET', KEYS[2], unpack(meta))
redis.call('SET', KEYS[1], ARGV[1])
for i = first_buyer, #ARGV, 4 do
  if tonumber(ARGV[i + 1]) > 0 then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 2])
  if tonumber(ARGV[i + 3]) > 0 then
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 3])
  end
end
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[5], ARGV[2], '0', 'MKSTREAM')
return 1
