-- wrk script: POST the JSON request body in $WRK_BODY_FILE to the target path, with an optional
-- bearer token in $WRK_TOKEN. Used by hitpath.sh for both the full stack and bare Fiber.
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- count statuses other than 200 so a run answered with errors is visible
local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
