// Keys of the fees read model shared by its rule (fees_view.cc) and its queries
// (queries.cc), so the two cannot drift apart. Internal to projections/.
//
// A capture is keyed by its order and payment as well as its own id: the domain scopes
// capture ids per payment (ledger/domain/state.h, `capture_payments`), so one merchant may
// hold capture X on two payments (DECISIONS 102). No id holds a '/': merchant ids are
// [a-z0-9_]{1,32} and every other id [A-Za-z0-9._:-]{1,64} (ledger/ids.h), checked by the
// decider (CheckId) before any event is written, so `capture/<m>/<order>/` holds exactly
// that order's captures and no other order's. The order id is empty for a provider's
// capture of a payment the ledger never authorized (its refunds and disputes carry the
// same empty order id), which no order's prefix reaches.
#pragma once

#include <string>
#include <string_view>

namespace projections {

// capture/<merchant>/<order>/<payment>/<capture>
inline std::string FeesCaptureKey(std::string_view merchant, std::string_view order, std::string_view payment,
                                  std::string_view capture) {
  std::string key;
  key.reserve(11 + merchant.size() + order.size() + payment.size() + capture.size());
  key.append("capture/").append(merchant).append("/").append(order).append("/").append(payment).append("/").append(capture);
  return key;
}

// capture/<merchant>/<order>/: the prefix of every capture of that order.
inline std::string FeesOrderCapturesPrefix(std::string_view merchant, std::string_view order) {
  std::string prefix("capture/");
  prefix.append(merchant).append("/").append(order).append("/");
  return prefix;
}

}  // namespace projections
