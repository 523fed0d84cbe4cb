-- POST /v1/batch: every request ITEMS new orders (each order is 2 events: OrderPlaced and
-- the stock's ListingChanged).
package.path = (os.getenv("WRK_SCRIPTS") or ".") .. "/?.lua;" .. package.path
require("common")
local items = tonumber(os.getenv("ITEMS") or "50")

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, items do
    parts[i] = string.format(
      '{"method":"POST","path":"/v1/orders","body":{"order_id":"b-%s-%d-%d-%d","store_id":"s1",' ..
      '"customer_id":"c1","currency":"USD","lines":[{"sku":"sku-1","quantity":1,"unit_price":2500}]}}',
      run, thread_index, counter, i)
  end
  local key = string.format("batch-%s-%d-%d", run, thread_index, counter)
  return wrk.format("POST", "/v1/batch", headers({["Idempotency-Key"] = key}), '{"items":[' .. table.concat(parts, ",") .. ']}')
end
