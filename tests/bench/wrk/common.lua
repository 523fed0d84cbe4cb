-- Shared by the wrk scripts of tests/bench/http_bench.sh: each wrk thread gets its own
-- index (ids never collide between threads), requests carry the merchant key from
-- LEDGER_KEY, and RUN (a per-run token) keeps ids unique across runs on one data dir.
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function headers(extra)
  local h = {["Authorization"] = "Bearer " .. (os.getenv("LEDGER_KEY") or ""), ["Content-Type"] = "application/json"}
  if extra then for k, v in pairs(extra) do h[k] = v end end
  return h
end

run = os.getenv("RUN") or "r"
counter = 0

-- Non-2xx answers are counted by wrk itself ("Non-2xx or 3xx responses"); the first few
-- are printed so a broken set-up is visible.
local shown = 0
function response(status, hdrs, body)
  if status >= 300 and shown < 3 then
    shown = shown + 1
    io.stderr:write("answer " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\n")
  end
end
