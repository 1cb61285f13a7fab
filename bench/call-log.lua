-- wrk script for POST /callLog?jwtToken=...
--
--   wrk -t2 -c16 -d20s --latency -s bench/call-log.lua 'http://127.0.0.1:PORT/callLog?jwtToken=JWT' [-- ARGS]
--
-- ARGS (after wrk's "--"):
--   unique [TAG]     (default) every request carries a new logInfo.sessionId "TAG-<thread>-<n>", so every
--                    request creates a log; every response must say "successful":true.
--   dup POOL [TAG]   sessionIds cycle through POOL ids "TAG-dup-<k>" shared by all threads and connections:
--                    after the first hit of each id every request is a duplicate ("Existing log ..."),
--                    and at most POOL requests in the whole run may be answered "successful":true.
--
-- Response bodies are checked for "successful":true; done() prints wrk-style totals plus one
-- "BENCH ..." line (latencies in microseconds) that bench/run.sh parses.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local mode, pool, tag
local counter = 0
ok = 0      -- responses containing "successful":true (read by done() through thread:get)
not_ok = 0  -- anything else

function init(args)
  mode = args[1] or "unique"
  if mode == "dup" then
    pool = tonumber(args[2] or "100")
    tag = args[3] or "bench"
  elseif mode == "unique" then
    tag = args[2] or "bench"
  else
    error("call-log.lua: mode must be unique or dup, not " .. tostring(mode))
  end
  -- Threads start at different offsets so the duplicate run races on the same ids from both threads.
  counter = (id - 1) * 7
end

local head = '{"logInfo":{"sessionId":"'
local tail = '","direction":"Inbound","from":{"phoneNumber":"+16505550042"},' ..
  '"to":{"phoneNumber":"+16505550100"},"startTime":1795150800000,"duration":42,' ..
  '"result":"Call connected"},"contactId":"c1","contactName":"Ada","contactType":"Contact","note":"bench"}'
local headers = { ["Content-Type"] = "application/json" }

function request()
  counter = counter + 1
  local session
  if mode == "dup" then
    session = tag .. "-dup-" .. (counter % pool)
  else
    session = tag .. "-" .. id .. "-" .. counter
  end
  return wrk.format("POST", nil, headers, head .. session .. tail)
end

function response(status, _, body)
  if status == 200 and body and string.find(body, '"successful":true', 1, true) then
    ok = ok + 1
  else
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_not_ok = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_not_ok = total_not_ok + thread:get("not_ok")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d successful_true=%d successful_other=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, total_ok, total_not_ok))
end
