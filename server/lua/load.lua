-- load.lua — put a sale's stock and rules into Redis: a new sale, an edit of
-- one that has not started, or the settling of an edit a crash interrupted.
--
-- KEYS[1] stock    integer: units left
-- KEYS[2] meta     hash: the sale's rules (starts_ms, ends_ms, paused, limit, ...)
-- KEYS[3] buyers   hash: user id -> units held
-- KEYS[4] seq      hash: user id -> reservations ever made
--
-- ARGV[1] "new" (a sale just created), "edit", or "heal" (Postgres' values,
--         read under the sale's row lock, so no edit is under way)
-- ARGV[2] the stock
-- ARGV[3] how many meta fields follow (n), then n pairs of field, value
--         (read by rules_from_argv, lua/shared/sale_rules.lua)
--
-- Returns "ok" when written. For an edit: "started" when Redis' clock has
-- reached the sale's start or anyone has reserved (nothing is written), and
-- "missing" when Redis does not hold the sale (rebuild it first). For a heal:
-- "same" when Redis already agrees, "healed" when it was made to agree, and
-- "missing" as for an edit.
--
-- Invariant: the stock a crowd buys from never changes under it. The start is
-- judged on Redis' clock, the one the reserve script uses, so an edit and the
-- first buy cannot both win. After the start only the pause may change.

local mode = ARGV[1]
local meta = rules_from_argv()

if mode == 'edit' or mode == 'heal' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    return 'missing'
  end
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local starts = tonumber(redis.call('HGET', KEYS[2], 'starts_ms'))
  local started = (starts and now >= starts) or redis.call('EXISTS', KEYS[3]) == 1
      or redis.call('EXISTS', KEYS[4]) == 1
  if mode == 'edit' and started then
    return 'started'
  end
  if mode == 'heal' then
    local differs = false
    for i = 1, #meta, 2 do
      local field = meta[i]
      if (not started or field == 'paused')
          and redis.call('HGET', KEYS[2], field) ~= meta[i + 1] then
        differs = true
        if started then
          redis.call('HSET', KEYS[2], field, meta[i + 1])
        end
      end
    end
    if started then
      return differs and 'healed' or 'same'
    end
    if not differs and redis.call('GET', KEYS[1]) == ARGV[2] then
      return 'same'
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], unpack(meta))
if mode == 'heal' then
  return 'healed'
end
return 'ok'
