// Apply: folds one event into the domain state. Every event the decider produces is
// handled here; events of later issues (outages, keys, subscribers, ...) change nothing in
// the domain state and are accepted as they are.
#include "ledger/domain/state.h"

#include "ledger/record_codec.h"

namespace ledger::domain {
namespace {

namespace s = ledger::schema;

std::string Str(const flatbuffers::String* v) { return v ? v->str() : std::string(); }

using ledger::FromSchema;

Channel FromSchema(s::Channel c) {
  switch (c) {
    case s::Channel::Marketplace: return Channel::kMarketplace;
    case s::Channel::Mall: return Channel::kMall;
    default: return Channel::kWeb;
  }
}

FeeBreakdown FeesFrom(const s::FeeBreakdown* f, const std::string& currency) {
  FeeBreakdown out;
  out.currency = currency;
  if (f == nullptr) return out;
  out.recipe_version = f->recipe_version();
  if (f->lines() == nullptr) return out;
  for (const auto* l : *f->lines())
    out.lines.push_back({Str(l->contributor()), l->kind() == s::FeeKind::Tax ? FeeKind::kTax : FeeKind::kFee,
                         l->amount_minor(), l->percentage_part_minor(), l->fixed_part_minor(),
                         Str(l->payer_account()), Str(l->payee_account())});
  return out;
}

// *balance += amount (or -=), staying at the bound it would pass.
void AddSaturating(int64_t* balance, int64_t amount, bool add) {
  const bool overflowed = add ? __builtin_add_overflow(*balance, amount, balance)
                              : __builtin_sub_overflow(*balance, amount, balance);
  if (overflowed) *balance = (add == (amount > 0)) ? INT64_MAX : INT64_MIN;
}

// Postings move money between accounts; the merchant's own accounts are tracked per
// currency because payouts are decided against the available one and every one is kept
// within int64 (MerchantBalancesStayInRange).
void ApplyPostingsToMerchant(MerchantState& m, const std::string& merchant,
                             const flatbuffers::Vector<flatbuffers::Offset<s::Posting>>* postings) {
  if (postings == nullptr) return;
  const std::string prefix = MerchantAccountPrefix(merchant);
  for (const auto* p : *postings) {
    const std::string debit = Str(p->debit()), credit = Str(p->credit()), currency = Str(p->currency());
    // Credit, then debit, as the decider's check and the read models.
    if (credit.starts_with(prefix)) AddSaturating(&m.account_minor[{credit, currency}], p->amount_minor(), /*add=*/true);
    if (debit.starts_with(prefix)) AddSaturating(&m.account_minor[{debit, currency}], p->amount_minor(), /*add=*/false);
  }
}

int64_t SalesTaxIn(const flatbuffers::Vector<flatbuffers::Offset<s::Posting>>* postings) {
  int64_t t = 0;
  if (postings == nullptr) return t;
  for (const auto* p : *postings)
    if (Str(p->credit()) == "tax:payable:sales") t += p->amount_minor();
  return t;
}

Status Broken(const std::string& what) { return Status::Corruption("event contradicts state: " + what); }

bool SameCommand(const Placement& p, const s::Event& e) {
  const s::Uuid* id = e.correlation_id();
  return id != nullptr && id->hi() == p.command_hi && id->lo() == p.command_lo;
}

// A placement's stock change is what its order took from stock (Order::stock_taken); the
// decider writes them right after the OrderPlaced, in the same command and store.
Status FoldStockTaken(MerchantState& m, const s::Event& e, const s::ListingChanged& b) {
  if (Str(b.reason()) != kStockReasonOrderPlaced) return Status::Ok();
  auto order = m.orders.find(m.placing.order_id);
  if (order == m.orders.end() || !SameCommand(m.placing, e) || order->second.store_id != Str(b.store_id()) ||
      b.stock_delta() > 0)
    return Broken("a placement's stock change without its order");
  AddSaturating(&order->second.stock_taken[Str(b.sku())], b.stock_delta(), /*add=*/false);  // the delta is negative
  return Status::Ok();
}

// A capture counts toward its payment's and order's figures only in their currency
// (DECISIONS 107); the order is paid once those reach its total (DESIGN §5).
void FoldCaptureIntoOrder(Order& o, const std::string& currency, int64_t amount) {
  o.captures += 1;
  if (currency != o.currency) return;
  AddSaturating(&o.captured_minor, amount, /*add=*/true);
  if (o.status == OrderStatus::kPlaced && o.Paid()) o.status = OrderStatus::kPaid;
}

}  // namespace

std::string MerchantAccountPrefix(const std::string& merchant_id) { return "merchant:" + merchant_id + ":"; }

int64_t AvailableMinor(const MerchantState& m, const std::string& merchant_id, const std::string& currency) {
  const auto it = m.account_minor.find({MerchantAccountPrefix(merchant_id) + "available", currency});
  return it == m.account_minor.end() ? 0 : it->second;
}

Status Apply(DomainState& state, const schema::Event& e) {
  const std::string merchant = Str(e.tenant());
  if (e.body_type() == s::EventBody::FeeRecipePublished) {
    const auto* b = e.body_as_FeeRecipePublished();
    auto recipe = ParseFeeRecipe(Str(b->document()));
    if (!recipe.ok()) return Broken("published fee recipe does not parse: " + recipe.status().message());
    state.recipes[recipe->version] = *recipe;
    state.current_recipe_version = std::max(state.current_recipe_version, recipe->version);
    return Status::Ok();
  }
  if (e.body_type() == s::EventBody::OutageNoticePublished) {
    const auto* b = e.body_as_OutageNoticePublished();
    state.outages[Str(b->notice_id())] = {Str(b->component()), static_cast<int>(b->status())};
    return Status::Ok();
  }
  if (e.body_type() == s::EventBody::OutageNoticeUpdated) {
    const auto* b = e.body_as_OutageNoticeUpdated();
    auto it = state.outages.find(Str(b->notice_id()));
    if (it == state.outages.end()) return Broken("update of an unknown outage notice");
    it->second.status = static_cast<int>(b->status());
    return Status::Ok();
  }
  switch (e.body_type()) {
    case s::EventBody::KeyIssued: {
      const auto* b = e.body_as_KeyIssued();
      state.keys[Str(b->key_id())] = {static_cast<int>(b->role()), Str(b->merchant_id()), FromSchema(b->key_hash()), false};
      return Status::Ok();
    }
    case s::EventBody::KeyRevoked: state.keys[Str(e.body_as_KeyRevoked()->key_id())].revoked = true; return Status::Ok();
    case s::EventBody::SubscriberAdded: {
      const auto* b = e.body_as_SubscriberAdded();
      state.subscribers[Str(b->subscriber_id())] = {Str(b->owner_merchant_id()), false};
      return Status::Ok();
    }
    case s::EventBody::SubscriberRemoved:
      state.subscribers[Str(e.body_as_SubscriberRemoved()->subscriber_id())].removed = true;
      return Status::Ok();
    default: break;
  }
  if (merchant.empty()) return Status::Ok();  // other platform records: not domain state
  MerchantState& m = state.merchants[merchant];
  switch (e.body_type()) {
    case s::EventBody::MerchantConfigured:
      m.configured = true;
      m.settlement_currency = Str(e.body_as_MerchantConfigured()->settlement_currency());
      m.takes_paypal_webhooks = !Str(e.body_as_MerchantConfigured()->paypal_webhook_id()).empty();
      break;
    case s::EventBody::StoreOpened: {
      const auto* b = e.body_as_StoreOpened();
      m.stores[Str(b->store_id())] = Store{Str(b->name()), FromSchema(b->channel()), {}};
      break;
    }
    case s::EventBody::ListingPublished: {
      const auto* b = e.body_as_ListingPublished();
      auto store = m.stores.find(Str(b->store_id()));
      if (store == m.stores.end()) return Broken("listing in an unknown store");
      store->second.listings[Str(b->sku())] = {Str(b->title()), b->price()->amount_minor(), Str(b->price()->currency()), b->stock()};
      break;
    }
    case s::EventBody::ListingChanged: {
      const auto* b = e.body_as_ListingChanged();
      auto store = m.stores.find(Str(b->store_id()));
      if (store == m.stores.end()) return Broken("listing in an unknown store");
      LEDGER_RETURN_IF_ERROR(FoldStockTaken(m, e, *b));
      store->second.listings[Str(b->sku())] = {Str(b->title()), b->price()->amount_minor(), Str(b->price()->currency()), b->stock()};
      break;
    }
    case s::EventBody::CustomerRegistered: m.customers[Str(e.body_as_CustomerRegistered()->customer_id())] = false; break;
    case s::EventBody::CustomerErased: m.customers[Str(e.body_as_CustomerErased()->customer_id())] = true; break;
    case s::EventBody::OrderPlaced: {
      const auto* b = e.body_as_OrderPlaced();
      Order o;
      o.store_id = Str(b->store_id());
      o.customer_id = Str(b->customer_id());
      o.channel = FromSchema(b->channel());
      o.currency = Str(b->currency());
      std::map<std::string, int64_t> q;
      if (b->lines())
        for (const auto* l : *b->lines()) q[Str(l->sku())] += l->quantity();
      o.sku_quantities.assign(q.begin(), q.end());
      o.shipping_minor = b->shipping_minor();
      o.tax_minor = b->tax_minor();
      o.total_minor = b->total_minor();
      if (o.Paid()) o.status = OrderStatus::kPaid;  // a total of 0: nothing to capture
      m.orders[Str(b->order_id())] = std::move(o);
      const s::Uuid* command = e.correlation_id();
      m.placing = {Str(b->order_id()), command ? command->hi() : 0, command ? command->lo() : 0};
      break;
    }
    case s::EventBody::OrderCancelled: m.orders[Str(e.body_as_OrderCancelled()->order_id())].status = OrderStatus::kCancelled; break;
    case s::EventBody::OrderFulfilled: m.orders[Str(e.body_as_OrderFulfilled()->order_id())].status = OrderStatus::kFulfilled; break;
    case s::EventBody::PaymentAuthorized: {
      const auto* b = e.body_as_PaymentAuthorized();
      Payment p;
      p.order_id = Str(b->order_id());
      p.currency = Str(b->amount()->currency());
      p.authorized_minor = b->amount()->amount_minor();
      p.provider = Str(b->provider());
      auto order = m.orders.find(p.order_id);
      if (order == m.orders.end()) return Broken("payment for an unknown order");
      order->second.payment_ids.push_back(Str(b->payment_id()));
      m.payments[Str(b->payment_id())] = std::move(p);
      break;
    }
    case s::EventBody::AuthorizationVoided: m.payments[Str(e.body_as_AuthorizationVoided()->payment_id())].status = PaymentStatus::kVoided; break;
    case s::EventBody::PaymentFailed: m.payments[Str(e.body_as_PaymentFailed()->payment_id())].status = PaymentStatus::kFailed; break;
    case s::EventBody::PaymentCaptured: {
      const auto* b = e.body_as_PaymentCaptured();
      auto pay = m.payments.find(Str(b->payment_id()));
      if (pay == m.payments.end()) {
        // A provider reported a capture the ledger never authorized (recorded with an
        // anomaly note): the payment exists from now on, with nothing authorized.
        if (b->source() != s::PaymentSource::Provider) return Broken("capture of an unknown payment");
        Payment stub;
        stub.order_id = Str(b->order_id());
        stub.currency = Str(b->amount()->currency());
        pay = m.payments.emplace(Str(b->payment_id()), std::move(stub)).first;
      }
      Capture c;
      c.amount_minor = b->amount()->amount_minor();
      c.currency = Str(b->amount()->currency());
      // The fees were charged in the capture's own currency (its postings say so).
      c.charged.fees = FeesFrom(b->fees(), c.currency);
      c.charged.sales_tax_minor = SalesTaxIn(b->postings());
      c.charged.merchant_net_minor = c.amount_minor - c.charged.fees.Total() - c.charged.sales_tax_minor;
      if (c.currency == pay->second.currency) AddSaturating(&pay->second.captured_minor, c.amount_minor, /*add=*/true);
      if (auto order = m.orders.find(pay->second.order_id); order != m.orders.end())
        FoldCaptureIntoOrder(order->second, c.currency, c.amount_minor);
      pay->second.captures[Str(b->capture_id())] = std::move(c);
      if (auto [it, fresh] = m.capture_payments.emplace(Str(b->capture_id()), pay->first); !fresh && pay->first < it->second)
        it->second = pay->first;
      if (!Str(b->provider_reference()).empty()) m.provider_references[Str(b->provider_reference())] = Str(b->capture_id());
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::PaymentRefunded: {
      const auto* b = e.body_as_PaymentRefunded();
      if (!Str(b->provider_reference()).empty()) m.provider_references[Str(b->provider_reference())] = Str(b->refund_id());
      auto pay = m.payments.find(Str(b->payment_id()));
      Capture* cap = nullptr;
      if (pay != m.payments.end())
        if (auto c = pay->second.captures.find(Str(b->capture_id())); c != pay->second.captures.end()) cap = &c->second;
      if (cap == nullptr) {
        // Only a provider can report a refund of a capture the ledger does not know.
        if (b->source() != s::PaymentSource::Provider) return Broken("refund of an unknown capture");
        ApplyPostingsToMerchant(m, merchant, b->postings());
        break;
      }
      const int64_t amount = b->amount()->amount_minor();
      pay->second.refunds[Str(b->refund_id())] = amount;
      // A provider's refund in another currency than the capture's moved money (its
      // postings) but takes nothing off what is refundable in the capture's (DECISIONS 107).
      if (Str(b->amount()->currency()) == cap->currency) {
        AddSaturating(&cap->refunded_minor, amount, /*add=*/true);
        // Fees are reversed at most up to the whole capture, even for an over-refund.
        cap->fee_reversal_basis_minor = std::min(cap->amount_minor, cap->fee_reversal_basis_minor + amount);
      }
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::DisputeOpened: {
      const auto* b = e.body_as_DisputeOpened();
      if (!Str(b->provider_reference()).empty()) m.provider_references[Str(b->provider_reference())] = Str(b->dispute_id());
      auto pay = m.payments.find(Str(b->payment_id()));
      if (pay == m.payments.end()) return Broken("dispute of an unknown payment");
      auto cap = pay->second.captures.find(Str(b->capture_id()));
      if (cap == pay->second.captures.end()) return Broken("dispute of an unknown capture");
      Dispute d;
      d.payment_id = Str(b->payment_id());
      d.capture_id = Str(b->capture_id());
      d.amount_minor = b->amount()->amount_minor();
      d.currency = Str(b->amount()->currency());
      d.open_fees = FeesFrom(b->fees(), d.currency);
      // Held against the capture only in its currency (the decider refuses another since
      // DECISIONS 107; an older log may hold one).
      if (d.currency == cap->second.currency) cap->second.open_disputes_minor += d.amount_minor;
      cap->second.open_disputes += 1;
      m.disputes[Str(b->dispute_id())] = std::move(d);
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::DisputeEvidenceSubmitted:
      m.disputes[Str(e.body_as_DisputeEvidenceSubmitted()->dispute_id())].status = DisputeStatus::kEvidenceSubmitted;
      break;
    case s::EventBody::DisputeResolved: {
      const auto* b = e.body_as_DisputeResolved();
      auto d = m.disputes.find(Str(b->dispute_id()));
      if (d == m.disputes.end()) return Broken("resolution of an unknown dispute");
      Capture& cap = m.payments.at(d->second.payment_id).captures.at(d->second.capture_id);
      const bool counts = d->second.currency == cap.currency;  // as when it was opened
      if (counts) cap.open_disputes_minor -= d->second.amount_minor;
      cap.open_disputes -= 1;
      if (b->outcome() == s::DisputeOutcome::Won) {
        d->second.status = DisputeStatus::kWon;
      } else {
        d->second.status = b->outcome() == s::DisputeOutcome::Lost ? DisputeStatus::kLost : DisputeStatus::kAccepted;
        const auto recipe = state.recipes.find(d->second.open_fees.recipe_version);
        if (counts) cap.lost_disputes_minor += d->second.amount_minor;
        if (counts && recipe != state.recipes.end() && recipe->second.lost_dispute_reverses_fees)
          cap.fee_reversal_basis_minor = std::min(cap.amount_minor, cap.fee_reversal_basis_minor + d->second.amount_minor);
      }
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::PayoutSent: {
      const auto* b = e.body_as_PayoutSent();
      m.payouts[Str(b->payout_id())] = Payout{b->amount()->amount_minor(), Str(b->amount()->currency()), false};
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::PayoutFailed: {
      const auto* b = e.body_as_PayoutFailed();
      m.payouts[Str(b->payout_id())].returned = true;
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    case s::EventBody::MessageSent: {
      const auto* b = e.body_as_MessageSent();
      m.messages[Str(b->message_id())] = true;
      ApplyPostingsToMerchant(m, merchant, b->postings());
      break;
    }
    default:
      break;
  }
  return Status::Ok();
}

}  // namespace ledger::domain
