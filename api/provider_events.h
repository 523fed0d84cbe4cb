// What a provider's webhook says, as domain commands (DESIGN §9, webhooks in): PayPal's
// event envelope and eBay's order notifications. Pure: no I/O, no clock. The mapping is
// documented in DECISIONS.md §51.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ledger/domain/commands.h"
#include "ledger/status.h"

namespace api {

struct ProviderEvent {
  std::string event_id;    // the provider's own id of this event (the idempotency root)
  std::string event_type;  // as the provider names it
  // Run in order, each under its own idempotency key; empty: nothing the ledger records
  // (`ignored` says why).
  std::vector<ledger::domain::Command> commands;
  std::string ignored;
  // eBay's MARKETPLACE_ACCOUNT_DELETION: the handle of the buyer whose customer is erased
  // (no commands: the route derives the customer id, see EraseMarketplaceBuyer). Personal
  // data: never logged or echoed.
  std::string erased_buyer;
};

// A field that is missing or does not fit is InvalidArgument "<JSON pointer>: why".
ledger::Result<ProviderEvent> ReadPayPalEvent(const nlohmann::json& event);
// `store_id`: the merchant's configured eBay store, where the order is placed. The order's
// buyer is left as a handle (RecordProviderOrder::buyer) with no customer id: see
// AssignMarketplaceBuyer. An account deletion leaves the handle in `erased_buyer`.
ledger::Result<ProviderEvent> ReadEbayNotification(const nlohmann::json& notification, const std::string& store_id);

inline constexpr size_t kMarketplaceHandleBytesMax = 64;
// eBay's topic telling every seller that a buyer's account, and so their data, is gone.
inline constexpr const char* kEbayAccountDeletion = "MARKETPLACE_ACCOUNT_DELETION";
// A notification id within the idempotency key budget ("ebay:<id>:<n>" within 128).
inline constexpr size_t kNotificationIdBytesMax = 100;

}  // namespace api
