#include "projections/event_reading.h"

#include <cstdio>

#include "ledger/record_codec.h"

namespace projections {

using ledger::schema::Event;
using ledger::schema::EventBody;

std::string UtcDay(int64_t at_us) {
  // Howard Hinnant's civil_from_days: exact for the proleptic Gregorian calendar.
  int64_t days = at_us / 86'400'000'000LL;
  if (at_us < 0 && at_us % 86'400'000'000LL != 0) --days;
  // Events come in time order: most ask for the day the last one did (per thread, since
  // read models apply on threads of their own).
  thread_local int64_t last_days = INT64_MIN;
  thread_local std::string last_day;
  if (days == last_days) return last_day;
  last_days = days;
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                static_cast<long long>(d));
  last_day = buf;
  return last_day;
}

void PersonalInto(const Event& e, Record* out) {
  out->MakeObject();
  if (e.personal_key_id() != 0) {  // opened at read time with the keyring, never stored open
    out->SetBoolean("sealed", true);
    out->SetInteger("key_id", e.personal_key_id());
    out->SetInteger("position", static_cast<int64_t>(e.position()));
    return;
  }
  const auto* bytes = e.personal();
  if (bytes == nullptr || bytes->size() == 0) return;
  flatbuffers::Verifier v(bytes->data(), bytes->size());
  if (!v.VerifyBuffer<ledger::schema::PersonalData>(nullptr)) {
    out->SetBoolean("unreadable", true);
    return;
  }
  const auto* p = flatbuffers::GetRoot<ledger::schema::PersonalData>(bytes->data());
  if (p->name()) out->SetText("name", p->name()->string_view());
  if (p->email()) out->SetText("email", p->email()->string_view());
  if (p->phone()) out->SetText("phone", p->phone()->string_view());
  if (p->message_body()) out->SetText("message_body", p->message_body()->string_view());
  if (const auto* a = p->address()) {
    Record& address = out->SetRecord("address");
    address.SetText("city", Str(a->city()));
    address.SetText("country", Str(a->country()));
    address.SetText("line1", Str(a->line1()));
    address.SetText("line2", Str(a->line2()));
    address.SetText("postal_code", Str(a->postal_code()));
    address.SetText("region", Str(a->region()));
  }
}

void OrderLinesInto(const ledger::schema::OrderPlaced& order, bool with_unit_price, std::vector<Record>* lines) {
  if (order.lines() == nullptr) return;
  lines->reserve(lines->size() + order.lines()->size());
  for (const auto* l : *order.lines()) {
    Record& line = lines->emplace_back();
    line.SetInteger("quantity", l->quantity());
    line.SetText("sku", Str(l->sku()));
    if (with_unit_price) line.SetInteger("unit_price_minor", l->unit_price_minor());
  }
}

std::vector<PostingView> PostingsOf(const Event& e) {
  std::vector<PostingView> out;
  const auto view = [](const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); };
  if (const auto* p = ledger::PostingsOfRecord(e)) {
    out.reserve(p->size());
    for (const auto* x : *p) out.push_back({view(x->debit()), view(x->credit()), view(x->currency()), x->amount_minor()});
  }
  return out;
}

const ledger::schema::FeeBreakdown* FeesOf(const Event& e) {
  switch (e.body_type()) {
    case EventBody::PaymentCaptured: return e.body_as_PaymentCaptured()->fees();
    case EventBody::PaymentRefunded: return e.body_as_PaymentRefunded()->fees();
    case EventBody::DisputeOpened: return e.body_as_DisputeOpened()->fees();
    case EventBody::DisputeResolved: return e.body_as_DisputeResolved()->fees();
    case EventBody::MessageSent: return e.body_as_MessageSent()->fees();
    default: return nullptr;
  }
}

void AddTo(Json& j, const std::string& key, int64_t delta) {
  if (j.is_null()) j = Json::object();
  // One lookup: rules add to a few totals per event, over and over.
  Json& total = j.get_ref<Json::object_t&>().try_emplace(key, int64_t{0}).first->second;
  int64_t sum = total.get<int64_t>();
  const bool within = AddWithinInt64(&sum, delta);
  total = sum;
  if (!within) j["overflowed"] = true;
}

}  // namespace projections
