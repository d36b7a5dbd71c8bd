-- wrk script: every request is a cache MISS: the root field gets a unique alias (a new document
-- each time, so the document cache, the response cache and the database are all exercised).
-- $WRK_QUERY_FIELD is the selection, e.g. "threatCounts { all predators ransomware }".
-- $WRK_TOKEN optional bearer token.
local field = os.getenv("WRK_QUERY_FIELD") or "threatCounts { all predators ransomware }"
local token = os.getenv("WRK_TOKEN")
local counter = 0
local thread_id = 0
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end
function request()
  counter = counter + 1
  local body = '{"query":"{ m' .. thread_id .. '_' .. counter .. ': ' .. field .. ' }"}'
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", nil, headers, body)
end
