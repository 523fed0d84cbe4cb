// Domain commands: what a merchant (or the platform) asks the ledger to do. A command is
// decided against state (decider.h) into events, or refused with a rule error.
// Amounts are minor units of `currency`; ids follow DESIGN §3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/domain/fee_recipe.h"
#include "ledger/seal.h"
#include "ledger/types.h"

namespace ledger::domain {

struct ConfigureMerchant {
  std::string settlement_currency;
  std::string paypal_webhook_id;
  std::string paypal_cert_pem;
  std::string ebay_public_key;
  std::string ebay_store_id;
  std::string ebay_seller_id;  // eBay's seller (notifications of other sellers are refused)
};

struct OpenStore {
  std::string store_id;
  std::string name;
  Channel channel = Channel::kWeb;
};

struct PublishListing {
  std::string store_id;
  std::string sku;
  std::string title;
  int64_t price_minor = 0;
  std::string currency;
  int64_t stock = 0;
};

// Personal fields of a customer (DESIGN §12), sealed into the event under the customer's
// data key, which the API edge takes from the keyring (the decider draws nothing).
struct PersonalInput {
  uint64_t key_id = 0;
  SecretKey data_key{};
  std::string name, email, phone;
  std::string address_line1, address_line2, city, region, postal_code, country;
  std::string message_body;  // a message's text (SendMessage)
};

// Registers a customer, or updates one registered before. An update keeps the personal
// fields it does not mention (DECISIONS 109): a field with a value in `personal` replaces
// the one before, a field named in `removed` goes, any other stays as it was.
struct RegisterCustomer {
  std::string customer_id;
  std::string store_id;  // where they came through; may be empty
  std::optional<PersonalInput> personal = std::nullopt;
  uint8_t removed = 0;  // schema::PersonalField bits (phone, address; name and email cannot go)
};

// Erasure (DESIGN §12): CustomerErased naming the data key that the nodes destroy. A
// customer already erased: nothing new (a no-op).
struct EraseCustomer {
  std::string customer_id;
  uint64_t key_id = 0;  // 0: the customer never had personal data sealed
};

struct OrderLineInput {
  std::string sku;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
};

struct PlaceOrder {
  std::string order_id;
  std::string store_id;
  std::string customer_id;
  std::string currency;
  std::vector<OrderLineInput> lines;
  int64_t shipping_minor = 0;
  int64_t tax_minor = 0;
};

struct CancelOrder {
  std::string order_id;
  std::string reason;
};

struct FulfilOrder {
  std::string order_id;
};

struct AuthorizePayment {
  std::string payment_id;
  std::string order_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string method;
  std::string provider;
};

struct VoidAuthorization {
  std::string payment_id;
  std::string reason;
};

struct CapturePayment {
  std::string payment_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string provider_reference;  // optional; unique per merchant
};

struct RefundPayment {
  std::string payment_id;
  std::string refund_id;
  std::string capture_id;
  int64_t amount_minor = 0;
};

struct FailPayment {
  std::string payment_id;
  std::string reason;
};

struct OpenDispute {
  std::string dispute_id;
  std::string payment_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string reason;
  int64_t evidence_due_at_us = 0;  // set by the caller (decisions read no clock); 0 = none
};

struct SubmitDisputeEvidence {
  std::string dispute_id;
  std::string evidence_ref;
};

struct AcceptDispute {
  std::string dispute_id;
};

enum class DisputeOutcomeInput { kWon, kLost };
struct ResolveDispute {
  std::string dispute_id;
  DisputeOutcomeInput outcome = DisputeOutcomeInput::kWon;
};

struct SendPayout {
  std::string payout_id;
  int64_t amount_minor = 0;
  std::string currency;
};

struct ReturnPayout {  // the bank returned it: PayoutFailed
  std::string payout_id;
  std::string reason;
};

struct SendMessage {
  std::string message_id;
  std::string customer_id;
  int medium = 0;  // schema::MessageMedium
  std::optional<PersonalInput> body = std::nullopt;  // the text, sealed under the customer's key
};

// Facts reported by a payment provider through a verified webhook. They are recorded even
// when they break a rule the merchant's own request must keep, with an anomaly note naming
// the rules, because the money moved. A provider reference already recorded changes
// nothing (the decider returns no events).
struct RecordProviderCapture {
  std::string payment_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string provider_reference;  // required
};

struct RecordProviderRefund {
  std::string payment_id;
  std::string refund_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string provider_reference;  // required
};

struct RecordProviderDispute {
  std::string dispute_id;
  std::string payment_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string reason;
  std::string provider_reference;  // required
  int64_t evidence_due_at_us = 0;  // the provider's due date; 0 = none
};

// A provider's final word on a dispute it reported (PayPal's CUSTOMER.DISPUTE.RESOLVED).
// A dispute already resolved changes nothing; an unknown one is refused (report it first).
struct RecordProviderDisputeOutcome {
  std::string dispute_id;
  DisputeOutcomeInput outcome = DisputeOutcomeInput::kWon;
  std::string provider_reference;  // required
};

// An order a marketplace reported (an eBay order notification), placed in `order.store_id`.
// Recorded even when a sku is not listed, priced in another currency or short of stock
// (anomaly notes; stock never goes below 0); the buyer is registered in the same command
// when new; an order id already recorded changes nothing. `reported_total_minor` (0 = not
// reported) that differs from lines + shipping + tax is an anomaly too.
struct RecordProviderOrder {
  PlaceOrder order;
  std::string provider_reference;  // required
  int64_t reported_total_minor = 0;
  // The marketplace buyer's own handle (an eBay username), sealed as the customer's name
  // when the order registers them; the customer id is a keyed pseudonym of it (the API
  // edge derives both), so the handle is erasable like any personal field.
  std::optional<PersonalInput> buyer = std::nullopt;
};

// Platform commands (admin): the context's merchant id is empty.
enum class OutageStatusInput { kInvestigating = 0, kIdentified = 1, kMonitoring = 2, kResolved = 3 };

struct PublishOutageNotice {
  std::string notice_id;
  std::string component;  // e.g. "ledger-shard-0", "payments-paypal"
  std::string impact;     // e.g. "major", "minor"
  OutageStatusInput status = OutageStatusInput::kInvestigating;
  std::string message;
  int64_t detected_at_us = 0;  // carried in the command: decisions read no clock
  int64_t started_at_us = 0;
};

struct UpdateOutageNotice {
  std::string notice_id;
  OutageStatusInput status = OutageStatusInput::kInvestigating;
  std::string message;
  std::string impact;  // empty: unchanged
};

enum class KeyRoleInput { kMerchant = 0, kAuditor = 1, kAnalyst = 2, kAdmin = 3, kReplicator = 4 };

// The API edge draws the key and hashes it; only the hash enters the log.
struct IssueKey {
  std::string key_id;
  Sha256Digest key_hash{};
  KeyRoleInput role = KeyRoleInput::kMerchant;
  std::string merchant_id;  // required for the merchant role, empty otherwise
};

struct RevokeKey {
  std::string key_id;
};

// Webhook subscribers: a merchant's own (owner = the context's merchant) or the platform's.
// The secret arrives sealed with the secrets key (the API edge seals it). subscriber_id is
// the scoped id (ledger::ScopedSubscriberId: "<merchant>:<id>" for a merchant's, DECISIONS
// 97); RemoveSubscriber by a merchant falls back to "<id>" when that one is the same
// merchant's (added before ids were scoped).
struct AddSubscriber {
  std::string subscriber_id;
  std::string url;
  std::string secret_sealed;
  std::vector<std::string> topics;  // outages, outages:<component>, disputes, digests
};

struct RemoveSubscriber {
  std::string subscriber_id;
};

// The outcome of one delivery attempt of a webhook out (DESIGN §9: each delivery is
// recorded as an event): NotificationDelivered, or NotificationFailed with whether it will
// be retried. Recorded for the subscriber's owner (ctx merchant "" for platform ones).
struct RecordNotification {
  std::string subscriber_id;
  std::string notification_id;  // "<chosen id>:<subject position>", as the subscriber got it
  uint64_t subject_position = 0;
  uint32_t attempt = 1;
  bool delivered = false;
  uint32_t http_status = 0;     // 0: no answer
  std::string reason;           // failures: why (never the secret, never a body)
  bool will_retry = false;
  int64_t next_attempt_at_us = 0;
};

// The writer's periodic digest of its own log (DESIGN §10): the chain hash at a canonical
// position, so auditors can keep it outside the system. Platform command.
struct PublishDigest {
  uint64_t position = 0;
  Sha256Digest hash{};
};

struct PublishFeeRecipe {
  std::string document;  // the recipe JSON (ledger/domain/FEE_RECIPE.md)
};

// The first command of a writer epoch (DESIGN §8), appended by the node itself, never
// through the API: WriterPromoted and, for a failover, its outage notice. Epoch 1 opens a
// shard's log.
struct PromoteWriter {
  uint64_t epoch = 0;
  uint64_t previous_epoch = 0;
  std::string node_id;
  std::string advertise_url;
  std::optional<PublishOutageNotice> notice;
};

using Command =
    std::variant<ConfigureMerchant, OpenStore, PublishListing, RegisterCustomer, PlaceOrder,
                 CancelOrder, FulfilOrder, AuthorizePayment, VoidAuthorization, CapturePayment,
                 RefundPayment, FailPayment, OpenDispute, SubmitDisputeEvidence, AcceptDispute,
                 ResolveDispute, SendPayout, ReturnPayout, SendMessage, PublishFeeRecipe,
                 PublishOutageNotice, UpdateOutageNotice, RecordProviderCapture,
                 RecordProviderRefund, RecordProviderDispute, IssueKey, RevokeKey, AddSubscriber,
                 RemoveSubscriber, RecordNotification, RecordProviderDisputeOutcome, RecordProviderOrder,
                 PublishDigest, PromoteWriter, EraseCustomer>;

}  // namespace ledger::domain
