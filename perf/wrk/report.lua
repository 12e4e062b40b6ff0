-- Shared by the scenario scripts (loaded with dofile): sends the prepared `requests` round robin
-- from `position` (each script's init() fills them), counts the status of every response per
-- thread, and done() prints one line `WRK_JSON {...}` with the throughput, the latency
-- percentiles (ms), the errors (non-2xx/3xx statuses and socket errors) and the status counts.

statuses = {}
thread_index = 1
requests = {}
position = 1
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function request()
  local next_request = requests[position]
  position = position % #requests + 1
  return next_request
end

function base_headers(extra)
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  for name, value in pairs(extra or {}) do headers[name] = value end
  return headers
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local ms = function(us) return us / 1000 end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_s": %.3f, "req_per_s": %.1f, ' ..
    '"latency_ms": {"p50": %.2f, "p90": %.2f, "p95": %.2f, "p99": %.2f, "max": %.2f, "mean": %.2f}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(95)),
    ms(latency:percentile(99)), ms(latency.max), ms(latency.mean),
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ", ")))
end
