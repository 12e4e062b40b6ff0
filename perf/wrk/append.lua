-- POST batches of 10 events, round robin over the session ids given after `--` (the server
-- assigns ids, seqs and timestamps). The write key comes from wrk's -H "X-API-Key: ...".
--   wrk -t2 -c50 -d10s -H "X-API-Key: k" -s perf/wrk/append.lua http://host:port -- ID [ID...]

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local function batch()
  local events = {}
  for n = 1, 10 do
    local kind = ({ "llm_call", "test_generated", "test_passed", "file_written", "llm_call" })[n % 5 + 1]
    events[n] = string.format(
      '{"event_type": "%s", "event_data": {"class_name": "org.springframework.samples.petclinic.owner.OwnerController", ' ..
      '"file_path": "/repos/petclinic/src/test/java/org/springframework/samples/petclinic/owner/OwnerControllerTest.java", ' ..
      '"prompt_tokens": %d, "completion_tokens": %d, "duration_ms": %d, "model": "claude-sonnet-4"}, ' ..
      '"message": "%s for OwnerController (batch event %d)"}',
      kind, 1000 + n * 37, 200 + n * 11, 900 + n * 101, kind, n)
  end
  return '{"events": [' .. table.concat(events, ", ") .. ']}'
end

function init(args)
  local body = batch()
  local headers = base_headers({ ["Content-Type"] = "application/json" })
  for _, session_id in ipairs(args) do
    requests[#requests + 1] = wrk.format("POST", "/api/v2/sessions/" .. session_id .. "/events", headers, body)
  end
  position = ((thread_index - 1) * 7) % #requests + 1  -- threads start on different sessions
end
