-- get.lua at an offered rate instead of as fast as the server answers: each wrk thread sends its
-- next request at the next free slot of a fixed schedule (one slot every PACED_PERIOD_MS ms, so
-- threads * 1000 / PACED_PERIOD_MS requests a second in all), on whichever of its connections is
-- free. Latency is then the service's at that rate, not the queue of a saturated server; when
-- the server falls behind, fewer requests go out than offered (the rate printed says so).
--   PACED_PERIOD_MS=1.67 wrk -t2 -c50 -d10s -H "X-API-Key: k" -s perf/wrk/paced.lua URL -- PATH...

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "get.lua")

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clock_id, paced_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("paced_timespec")
local period = tonumber(os.getenv("PACED_PERIOD_MS") or "") or error("PACED_PERIOD_MS is not set")
local next_slot = nil

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function delay()
  local now = now_ms()
  -- A slot missed while every connection was busy is not made up later (no bursts).
  local slot = math.max(next_slot or now, now)
  next_slot = slot + period
  return slot - now
end
