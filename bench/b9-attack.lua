-- B9's attacker for wrk (run with -t1): wrong passwords for made-up accounts, as fast as
-- the connections allow. B9_SPREAD=1 gives every request another client address through
-- X-Forwarded-For (the server trusts the bench's proxy address), so that no per-address
-- throttle applies and only the hashing cap stands in the way.
local spread = os.getenv("B9_SPREAD") == "1"
local n = 0

request = function()
  n = n + 1
  local client = "203.0.113.1"
  if spread then
    client = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256,
      math.floor(n / 256) % 256, n % 256)
  end
  local body = '{"username":"victim' .. (n % 1000) .. '","password":"wrong-password"}'
  return wrk.format("POST", "/api/sessions",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = client }, body)
end
