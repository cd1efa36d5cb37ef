local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then
  delay = function() return pause end
end
-- Built in init(): wrk knows the host (for the Host header) only by then.
local requests = {}
init = function()
for line in io.lines(os.getenv("WRK_REQUESTS")) do
  local method, path, cookie, etag = line:match("^(%S+) (%S+) ?(%S*) ?(.*)$")
  local headers = { ["Origin"] = os.getenv("WRK_ORIGIN") }
  if cookie ~= "" then headers["Cookie"] = cookie end
  if etag ~= "" then headers["If-None-Match"] = etag end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    body = "{}"
  end
  requests[#requests + 1] = wrk.format(method, path, headers, body)
end
end
local next_request = tonumber(os.getenv("WRK_FIRST") or "0")
request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
-- Every answer's status, counted, so a row measures the answer it claims.
statuses = {}
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end
done = function()
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\n", status, count))
    end
  end
end
