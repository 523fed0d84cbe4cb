-- POST /v1/payments/{id}/captures: captures of 2500 spread over the PAYMENTS large
-- authorizations the set-up made (big-1 .. big-N), each capture new.
package.path = (os.getenv("WRK_SCRIPTS") or ".") .. "/?.lua;" .. package.path
require("common")
local payments = tonumber(os.getenv("PAYMENTS") or "1000")

function request()
  counter = counter + 1
  local payment = "big-" .. ((counter * 7 + thread_index) % payments + 1)
  local id = string.format("cap-%s-%d-%d", run, thread_index, counter)
  local body = string.format('{"capture_id":"%s","amount":2500}', id)
  return wrk.format("POST", "/v1/payments/" .. payment .. "/captures", headers({["Idempotency-Key"] = id}), body)
end
