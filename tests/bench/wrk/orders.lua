-- POST /v1/orders: every request a new order of one sku-1 at 2500 for customer c1 (also
-- the body the echo baseline gets).
package.path = (os.getenv("WRK_SCRIPTS") or ".") .. "/?.lua;" .. package.path
require("common")

function request()
  counter = counter + 1
  local body = string.format(
    '{"order_id":"o-%s-%d-%d","store_id":"s1","customer_id":"c1","currency":"USD",' ..
    '"lines":[{"sku":"sku-1","quantity":1,"unit_price":2500}]}', run, thread_index, counter)
  return wrk.format("POST", "/v1/orders", headers(), body)
end
