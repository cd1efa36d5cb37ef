-- line_lead.lua — take or keep the lead of a queue sale's line.
--
-- KEYS[1] the lead: the token of the instance leading
-- ARGV[1] this instance's token
-- ARGV[2] how long the lead lasts unless renewed (ms)
--
-- Returns 1 if this instance leads (taken or renewed), 0 if another does.
--
-- Invariant: at most one live token at a time; a leader that stops renewing
-- loses the lead after ARGV[2] ms and another takes it over.

local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
