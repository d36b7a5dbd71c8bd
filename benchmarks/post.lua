-- wrk script: POST the JSON request body in $WRK_BODY_FILE to the target path, with an optional
-- bearer token in $WRK_TOKEN. Used by hitpath.sh for both the full stack and bare Fiber.
--
-- There is deliberately no response() callback: with one, wrk parses every response's headers
-- into Lua tables, which costs wrk CPU in proportion to the number of headers. wrk shares the
-- cores with the server under test, so that would tax the server sending more headers for the
-- load generator's work. wrk counts non-2xx responses itself ("Non-2xx or 3xx responses").
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
