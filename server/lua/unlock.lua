-- unlock.lua — release a lock only if we still hold it (compare-and-delete).
--
-- KEYS[1] the lock
-- ARGV[1] the token written when the lock was taken (SET NX PX)
--
-- Returns 1 if the lock was ours and is now released, 0 otherwise.
--
-- Invariant: a holder whose lock expired (and was taken by another) never
-- releases the other's lock.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
