-- wrk script for bench/signup.py: every request a new address.
--   wrk -s bench/signup.lua URL -- PATH PREFIX CONTENT-TYPE BODY [AUTHORIZATION]
-- BODY holds EMAIL where the address goes; AUTHORIZATION, if given, is sent as
-- the Authorization header. done() prints one line of JSON.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  path, prefix, content_type, template = args[1], args[2], args[3], args[4]
  counter = 0
  statuses = {}
  headers = {
    ["Host"] = "news.test",
    ["Accept"] = "application/json",
    ["Content-Type"] = content_type,
    ["X-Forwarded-Proto"] = "https",
  }
  if args[5] and args[5] ~= "" then
    headers["Authorization"] = args[5]
  end
end

function request()
  counter = counter + 1
  local at = content_type:find("json") and "@" or "%40"
  local email = prefix .. "-" .. id .. "-" .. counter .. at .. "readers.example.com"
  local body = template:gsub("EMAIL", function() return email end)
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[#counts + 1] = string.format('[%d, %d]', status, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, ' ..
    '"errors": %d, "statuses": [%s]}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout,
    table.concat(counts, ", ")))
end
