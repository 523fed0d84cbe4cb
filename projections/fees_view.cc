// Fees and balances (DESIGN §7), all from the fee lines and postings the events carry
// (the projection never recomputes a fee: the log is the record of what was charged).
//
// Keys:
//   capture/<merchant>/<order>/<payment>/<capture>   gross, each contributor's fee and
//                                       reversal, tax (taxes on fees + sales tax), merchant
//                                       net at capture and after everything since (refunds,
//                                       disputes): the change of the merchant's accounts.
//                                       Keyed by order and payment too: capture ids are
//                                       unique per payment only, and an order's captures
//                                       are one prefix (fees_keys.h; DECISIONS 102)
//   dispute/<merchant>/<dispute>        the capture a dispute belongs to (order, payment,
//                                       capture), for its resolution, which names only the
//                                       dispute
//   day/<merchant>/<day>/<contributor>/<currency>   charged, reversed, net (by recorded-at;
//                                       a reversal counts on the refund's day)
//   balance/<account>/<currency>        credits - debits, from postings
//   statement/<merchant>/<currency>/<account>/<day>  credits, debits, postings that day
//   revenue/<contributor>/<currency>    platform revenue, kind fee only
//   recipe/<version, 10 digits>         every published fee recipe, as published
//   payout/<merchant>/<payout>          payouts and their outcome
// Currencies are never summed together.
#include <cstdio>

#include "projections/event_reading.h"
#include "projections/fees_keys.h"
#include "projections/projection.h"

namespace projections {
namespace {

using ledger::Status;
using ledger::schema::Event;
using ledger::schema::EventBody;
namespace fbs = ledger::schema;

std::string MerchantAccountPrefix(const std::string& m) { return "merchant:" + m + ":"; }

// The change of the accounts named `account`, or starting with it when it ends in ':', in
// these postings (credits - debits). Transfers between two such accounts cancel out.
int64_t NetFor(const std::vector<PostingView>& postings, const std::string& account) {
  const bool prefix = !account.empty() && account.back() == ':';
  auto matches = [&](std::string_view n) { return prefix ? n.substr(0, account.size()) == account : n == account; };
  int64_t net = 0;
  for (const PostingView& p : postings) {
    if (matches(p.credit)) net += p.amount_minor;
    if (matches(p.debit)) net -= p.amount_minor;
  }
  return net;
}

class FeesView final : public Projection {
 public:
  FeesView() : Projection("fees") {}
  // 2: a capture's record keyed by order and payment too (DECISIONS 102).
  uint32_t layout_version() const override { return 2; }

  Status Apply(const Event& e, StateTxn& s) const override {
    const std::string m = Str(e.tenant());
    const std::string merchant_prefix = MerchantAccountPrefix(m);  // the merchant's own accounts
    const std::string day = UtcDay(e.recorded_at_us());
    const std::vector<PostingView> postings = PostingsOf(e);
    const fbs::FeeBreakdown* fees = FeesOf(e);
    std::string currency;

    // The capture's record, when the event changes it. Values here are records
    // (record_value.h) except the rare recipes and payouts.
    Record* capture = nullptr;
    switch (e.body_type()) {
      case EventBody::PaymentCaptured: {
        const auto* b = e.body_as_PaymentCaptured();
        if (b->amount() == nullptr) return Status::Corruption("capture without an amount");
        currency = Str(b->amount()->currency());
        Record& c = s.PutRecord(FeesCaptureKey(m, Str(b->order_id()), Str(b->payment_id()), Str(b->capture_id())));
        // Set in key order (each is then an append).
        c.SetText("capture_id", Str(b->capture_id()));
        c.SetText("channel", fbs::EnumNameChannel(b->channel()));
        c.Child("contributors");
        c.SetText("currency", currency);
        c.SetText("day", day);
        c.SetInteger("gross_minor", b->amount()->amount_minor());
        const int64_t net = NetFor(postings, merchant_prefix);
        c.SetInteger("merchant_net_at_capture_minor", net);
        c.SetInteger("merchant_net_minor", net);
        c.SetText("order_id", Str(b->order_id()));
        c.SetText("payment_id", Str(b->payment_id()));
        c.SetInteger("recipe_version", fees ? fees->recipe_version() : 0);
        c.SetInteger("recorded_at_us", e.recorded_at_us());
        c.SetInteger("refunded_minor", 0);
        // Sales tax is the only posting to the tax account at capture.
        c.SetInteger("sales_tax_minor", NetFor(postings, "tax:payable:sales"));
        c.SetInteger("tax_minor", 0);
        capture = &c;
        break;
      }
      case EventBody::PaymentRefunded: {
        const auto* b = e.body_as_PaymentRefunded();
        if (b->amount() == nullptr) return Status::Corruption("refund without an amount");
        currency = Str(b->amount()->currency());
        Record& c = s.MutableRecord(FeesCaptureKey(m, Str(b->order_id()), Str(b->payment_id()), Str(b->capture_id())));
        if (!c.is_null()) {  // null: a provider's refund of a capture the ledger never recorded
          c.Add("refunded_minor", b->amount()->amount_minor());
          c.Add("sales_tax_minor", NetFor(postings, "tax:payable:sales"));
          c.Add("merchant_net_minor", NetFor(postings, merchant_prefix));
          capture = &c;
        }
        break;
      }
      case EventBody::DisputeOpened: {
        const auto* b = e.body_as_DisputeOpened();
        currency = b->amount() ? Str(b->amount()->currency()) : "";
        const std::string capture_key = FeesCaptureKey(m, Str(b->order_id()), Str(b->payment_id()), Str(b->capture_id()));
        Record& d = s.PutRecord("dispute/" + m + "/" + Str(b->dispute_id()));
        // Set in key order. The resolution names only the dispute: these find its capture.
        d.SetText("capture_id", Str(b->capture_id()));
        d.SetText("currency", currency);
        d.SetText("order_id", Str(b->order_id()));
        d.SetText("payment_id", Str(b->payment_id()));
        Record& c = s.MutableRecord(capture_key);
        if (!c.is_null()) {
          c.Add("merchant_net_minor", NetFor(postings, merchant_prefix));
          capture = &c;
        }
        break;
      }
      case EventBody::DisputeResolved: {
        const Record& d = s.GetRecord("dispute/" + m + "/" + Str(e.body_as_DisputeResolved()->dispute_id()));
        const std::optional<std::string_view> capture_id = d.Text("capture_id");
        if (d.is_null() || !capture_id) return Status::Corruption("resolution of an unknown dispute");
        const std::optional<std::string_view> order_id = d.Text("order_id"), payment_id = d.Text("payment_id");
        // A dispute recorded by a version before DECISIONS 102 names only its capture, whose
        // record is under the old key: figures from such a store would be silently wrong.
        if (!order_id || !payment_id)
          return Status::Corruption("resolution of a dispute recorded before fee records were keyed by order and "
                                    "payment: rebuild the fees read model (DECISIONS 102)");
        const std::string capture_key = FeesCaptureKey(m, *order_id, *payment_id, *capture_id);
        currency = std::string(d.Text("currency").value_or(""));
        Record& c = s.MutableRecord(capture_key);
        if (!c.is_null()) {
          c.Add("merchant_net_minor", NetFor(postings, merchant_prefix));
          capture = &c;
        }
        break;
      }
      case EventBody::FeeRecipePublished: {
        const auto* b = e.body_as_FeeRecipePublished();
        char version[16];
        std::snprintf(version, sizeof version, "%010u", b->version());  // key order = version order
        s.Put(std::string("recipe/") + version, {{"version", b->version()},
                                                 {"document", Str(b->document())},
                                                 {"published_at_us", e.recorded_at_us()}});
        break;
      }
      case EventBody::PayoutSent:
      case EventBody::PayoutFailed: {
        const bool sent = e.body_type() == EventBody::PayoutSent;
        const std::string id = sent ? Str(e.body_as_PayoutSent()->payout_id()) : Str(e.body_as_PayoutFailed()->payout_id());
        const fbs::Money* amount = sent ? e.body_as_PayoutSent()->amount() : e.body_as_PayoutFailed()->amount();
        Json& p = s.Mutable("payout/" + m + "/" + id);
        if (sent) {
          p = {{"payout_id", id},
               {"amount_minor", amount ? amount->amount_minor() : 0},
               {"currency", amount ? Str(amount->currency()) : ""},
               {"status", "sent"},
               {"sent_at_us", e.recorded_at_us()}};
        } else {
          if (p.is_null()) return Status::Corruption("PayoutFailed for an unknown payout");
          p["status"] = "failed";
          p["failure_reason"] = Str(e.body_as_PayoutFailed()->reason());
          p["failed_at_us"] = e.recorded_at_us();
        }
        break;
      }
      default:
        break;
    }

    if (fees != nullptr && fees->lines() != nullptr) {
      for (const auto* line : *fees->lines()) {
        const std::string contributor = Str(line->contributor());
        const std::string cur = Str(line->currency()).empty() ? currency : Str(line->currency());
        const int64_t amount = line->amount_minor();
        const bool is_fee = line->kind() == fbs::FeeKind::Fee;
        Record& daily = s.MutableRecord("day/" + m + "/" + day + "/" + contributor + "/" + cur);
        if (daily.is_null()) daily.SetText("kind", is_fee ? "fee" : "tax");
        daily.Add(amount >= 0 ? "charged_minor" : "reversed_minor", amount >= 0 ? amount : -amount);
        daily.Add("net_minor", amount);
        if (is_fee) s.MutableRecord("revenue/" + contributor + "/" + cur).Add("net_minor", amount);
        if (capture != nullptr) {
          Record& per = capture->Child("contributors").Child(contributor);
          if (per.fields().empty()) {  // new (a contributor's record always has its kind)
            per.SetInteger("charged_minor", 0);
            per.SetText("kind", is_fee ? "fee" : "tax");
            per.SetInteger("reversed_minor", 0);
          }
          per.Add(amount >= 0 ? "charged_minor" : "reversed_minor", amount >= 0 ? amount : -amount);
          if (!is_fee) capture->Add("tax_minor", amount);
        }
      }
    }

    std::string key;  // reused from key to key
    for (const PostingView& p : postings) {
      const std::string cur(p.currency);
      const int64_t amount = p.amount_minor;
      // One side of the posting: its balance, and the merchant's statement when the
      // account is the merchant's own.
      const auto post = [&](std::string_view account, int64_t signed_amount, const char* statement_field) {
        key.assign("balance/").append(account).append("/").append(cur);
        s.MutableRecord(key).Add("balance_minor", signed_amount);
        if (account.substr(0, merchant_prefix.size()) != merchant_prefix) return;
        key.assign("statement/").append(m).append("/").append(cur).append("/").append(account).append("/").append(day);
        Record& st = s.MutableRecord(key);
        st.Add(statement_field, amount);
        st.Add("postings", 1);
      };
      post(p.credit, amount, "credits_minor");
      post(p.debit, -amount, "debits_minor");
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Projection> MakeFeesView() { return std::make_unique<FeesView>(); }

}  // namespace projections
