-- retire.lua — let a settled sale's keys expire: the sale is over, its payment
-- window too, and every unit is paid or back (Postgres says so; the caller
-- checked). Memory is returned; a later look at the sale rebuilds it from
-- Postgres if one is ever needed.
--
-- KEYS     every key of the sale (stock, meta, buyers, seq, stream, queued,
--          returned, failures, cached definitions, outcome counts,
--          dead letters)
-- KEYS[6]  queued: reservations not yet persisted
-- ARGV[1]  milliseconds the keys live on
--
-- Returns "retired", or "queued" when a reservation still waits for Postgres
-- (nothing is touched then: its message and entry must stay).

if redis.call('HLEN', KEYS[6]) > 0 then
  return 'queued'
end
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return 'retired'
