-- sale_rules.lua — reading a sale's rules from ARGV. Not a script of its own:
-- the scripts that write a sale's meta hash (load.lua, rebuild.lua) start with
-- this text.
--
-- rules_from_argv()
--   reads ARGV[3] = how many meta fields follow (n), then n pairs of field, value
-- Returns the flat list {field, value, ...} for HSET, and the index of the first
-- ARGV after the pairs.

local function rules_from_argv()
  local fields = tonumber(ARGV[3])
  local meta = {}
  for i = 0, fields - 1 do
    meta[#meta + 1] = ARGV[4 + 2 * i]
    meta[#meta + 1] = ARGV[5 + 2 * i]
  end
  return meta, 4 + 2 * fields
end

