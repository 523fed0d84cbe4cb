#include "api/personal.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/problem.h"
#include "ledger/domain/decider.h"
#include "ledger/event_store.h"
#include "ledger/keyring.h"
#include "ledger/record_codec.h"
#include "ledger/types.h"
#include "projections/projections.h"
#include "projections/read_model_store.h"

namespace api {

namespace {
using ledger::schema::PersonalField;
constexpr std::pair<const char*, PersonalField> kPersonal[] = {
    {"name", PersonalField::Name}, {"email", PersonalField::Email},
    {"phone", PersonalField::Phone}, {"address", PersonalField::Address}};
constexpr const char* kAddress[] = {"line1", "line2", "city", "region", "postal_code", "country"};

bool NullOrEmptyText(const Json& v) { return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()); }

// A personal field the request names without a value: null or "", an address null or with
// every part null or "" (what PersonalBytes would seal as no field at all). The update
// removes it (DECISIONS 109), where before it sealed nothing in its place and so lost it.
bool NamedWithoutValue(const Json& body, const char* name) {
  const Json& v = body[name];
  if (NullOrEmptyText(v)) return true;
  if (std::string_view(name) != "address" || !v.is_object()) return false;
  return std::all_of(std::begin(kAddress), std::end(kAddress),
                     [&](const char* part) { return !v.contains(part) || NullOrEmptyText(v[part]); });
}

// A personal field `body` gives a value.
bool Given(const Json& body, const char* name) { return body.contains(name) && !NamedWithoutValue(body, name); }

// The PersonalField bits of the optional fields (phone, address) `body` names without a
// value: the update removes them. Name and email cannot go (DESIGN §9 lists them unmarked):
// null or "" for them reads as left out, kept (as before 109, so a client that writes
// absent fields as null is not refused).
uint8_t RemovedFields(const Json& body) {
  uint8_t removed = 0;
  for (const auto& [name, field] : kPersonal) {
    if (field == PersonalField::Name || field == PersonalField::Email) continue;
    if (body.contains(name) && NamedWithoutValue(body, name)) removed |= static_cast<uint8_t>(field);
  }
  return removed;
}

// 400 for an address member that is not one of its parts: read as "no part given" it would
// remove the stored address, and its text, sealed nowhere, would be hashed in the clear
// into the request's digest (DESIGN §12).
std::optional<Response> UnknownAddressPart(const Json& body) {
  if (!body.contains("address") || !body["address"].is_object()) return std::nullopt;
  for (const auto& [member, value] : body["address"].items())
    if (std::find_if(std::begin(kAddress), std::end(kAddress), [&](const char* part) { return member == part; }) ==
        std::end(kAddress))
      return Problem(400, "invalid-field",
                     "/address: unknown part; the parts are line1, line2, city, region, postal_code and country",
                     R"({"pointer":"/address"})");
  return std::nullopt;
}

// A profile as the customers read model keeps it (DECISIONS 109): per field, its value when
// written plain, or {sealed, key_id, position} of the event that last set it. Each sealed
// event is opened once; one that does not open for this caller (another role, no key,
// erased) answers for the whole profile, as one sealed profile did: whole or not at all.
Json OpenProfile(const Call& c, const Json& profile) {
  if (!profile.is_object() || profile.contains("sealed") || profile.contains("erased")) return OpenSealed(c, profile);
  Json open = Json::object();
  std::map<uint64_t, Json> opened;  // by position
  for (const auto& [name, field] : kPersonal) {
    if (!profile.contains(name)) continue;
    const Json& v = profile[name];
    if (!v.is_object() || !v.contains("sealed")) {
      open[name] = v;
      continue;
    }
    const uint64_t position = v.value("position", uint64_t{0});
    auto at = opened.find(position);
    if (at == opened.end()) at = opened.emplace(position, OpenSealed(c, v)).first;
    const Json& fields = at->second;
    if (fields.contains("sealed") || fields.contains("erased")) return fields;
    if (fields.contains(name)) open[name] = fields[name];  // an older event may not carry it
  }
  return open;
}
}  // namespace

Response KeyringUnreadable(const ledger::Status& why) {
  spdlog::error("keyring: {}", why.ToString());
  return Problem(500, "internal", "the keyring cannot be read; the operator has been told");
}

std::variant<PersonalFields, Response> ReadPersonalFields(Call& c, const std::string& merchant,
                                                          const std::string& customer_id,
                                                          const std::string* message_body) {
  PersonalFields out;
  bool any = message_body != nullptr;
  if (message_body == nullptr && c.body.is_object()) {
    if (auto refused = UnknownAddressPart(c.body)) return *refused;
    out.removed = RemovedFields(c.body);
    for (const auto& [name, field] : kPersonal) any = any || Given(c.body, name);
  }
  if (!any) return out;  // nothing to seal: no key is drawn
  Fields f(c.body);
  ledger::domain::PersonalInput p;
  if (message_body != nullptr) p.message_body = *message_body;
  p.name = message_body ? "" : f.Str("name", false);
  p.email = message_body ? "" : f.Str("email", false);
  p.phone = message_body ? "" : f.Str("phone", false);
  if (message_body == nullptr && c.body.contains("address") &&
      (out.removed & static_cast<uint8_t>(PersonalField::Address)) == 0) {
    if (!c.body["address"].is_object())
      return Problem(400, "invalid-field", "/address: must be an object", R"({"pointer":"/address"})");
    Fields a(c.body["address"], "/address");
    std::string* into[] = {&p.address_line1, &p.address_line2, &p.city, &p.region, &p.postal_code, &p.country};
    for (size_t i = 0; i < std::size(kAddress); ++i) *into[i] = a.Str(kAddress[i], false);
    if (!a.ok()) return a.Error();
  }
  if (!f.ok()) return f.Error();
  // Checked before a data key is drawn: a refused request leaves nothing behind.
  if (auto bad = ledger::domain::CheckPersonalInput(p); !bad.ok()) {
    const std::string pointer = bad.message().substr(0, bad.message().find(':'));
    return Problem(400, "invalid-field", bad.message(), Json{{"pointer", pointer}}.dump());
  }
  if (c.ctx.keyring == nullptr)
    return Problem(503, "not-configured",
                   "personal fields are stored sealed, and this node has no keyring: start it with --secrets-key-file");
  auto key = c.ctx.keyring->KeyFor(merchant, customer_id);
  if (!key.ok()) {
    if (key.status().code() == ledger::Code::kInvalidArgument)
      return Problem(422, "rule-violated", "customer-erased: this customer's personal data was erased; no new personal data is taken",
                     R"({"rule":"customer-erased"})");
    return KeyringUnreadable(key.status());
  }
  p.key_id = key->key_id;
  p.data_key = key->key;
  Json fields = Json::object();
  for (const auto& [name, field] : kPersonal)
    if (c.body.contains(name)) fields[name] = c.body[name];
  if (message_body != nullptr) fields["body"] = *message_body;
  const auto mac = ledger::HmacSha256(key->key, fields.dump());
  out.digest_part = ledger::ToHex(mac);
  out.input = std::move(p);
  return out;
}

Json OpenSealed(const Call& c, const Json& sealed) {
  if (!sealed.is_object() || !sealed.value("sealed", false)) return sealed;
  const uint64_t key_id = sealed.value("key_id", uint64_t{0});
  const uint64_t position = sealed.value("position", uint64_t{0});
  auto note = [&](const char* why) { return Json{{"sealed", true}, {"key_id", key_id}, {"note", why}}; };
  if (c.who.role != Role::kMerchant) return note("personal fields are shown to the customer's merchant only");
  if (c.ctx.keyring == nullptr || position == 0) return note("this node holds no keyring");
  auto key = c.ctx.keyring->Get(key_id);
  if (!key.ok() && key.status().code() == ledger::Code::kNotFound) return Json{{"erased", true}};
  if (!key.ok() || !key->has_value()) return note("this node does not hold the customer's key");
  auto events = c.ctx.store->ReadRange(ledger::Position(position), 1);
  if (!events.ok() || events->empty()) return note("the sealed event cannot be read");
  const ledger::schema::Event* e = ledger::VerifyRecord(events->front().record);
  if (e == nullptr || e->personal() == nullptr || e->personal_key_id() != key_id)
    return note("the sealed event cannot be read");
  auto plain = ledger::Unseal(**key,
                              std::string_view(reinterpret_cast<const char*>(e->personal()->data()), e->personal()->size()),
                              ledger::PersonalAssociatedData(e->shard(), position, key_id));
  if (!plain.ok()) return note("the sealed fields do not open with the customer's key");
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(plain->data()), plain->size());
  if (!v.VerifyBuffer<ledger::schema::PersonalData>(nullptr)) return note("the sealed fields are damaged");
  const auto* p = flatbuffers::GetRoot<ledger::schema::PersonalData>(plain->data());
  Json open = Json::object();
  if (p->name()) open["name"] = p->name()->str();
  if (p->email()) open["email"] = p->email()->str();
  if (p->phone()) open["phone"] = p->phone()->str();
  if (p->message_body()) open["text"] = p->message_body()->str();
  if (const auto* a = p->address()) {
    auto s = [](const flatbuffers::String* x) { return x ? x->str() : std::string(); };
    open["address"] = {{"line1", s(a->line1())},   {"line2", s(a->line2())},
                       {"city", s(a->city())},     {"region", s(a->region())},
                       {"postal_code", s(a->postal_code())}, {"country", s(a->country())}};
  }
  return open;
}

Json OpenCustomer(const Call& c, Json customer) {
  if (!customer.is_object()) return customer;
  if (customer.contains("profile")) customer["profile"] = OpenProfile(c, customer["profile"]);
  if (customer.contains("messages") && customer["messages"].is_array())
    for (Json& m : customer["messages"])
      if (m.contains("body")) m["body"] = OpenSealed(c, m["body"]);
  return customer;
}

ledger::Result<size_t> SweepErasures(const ApiContext& ctx) {
  if (ctx.keyring == nullptr || ctx.projector == nullptr) return size_t{0};
  // A purge a destruction still owes (it failed, or the node died before it ran).
  LEDGER_RETURN_IF_ERROR(ctx.keyring->FinishPurge());
  const auto* customers = ctx.projector->read_model("customers");
  size_t swept = 0;
  std::string after;
  for (;;) {
    auto rows = customers->Scan("customer/", after, 1000);
    if (!rows.ok()) return rows.status();
    for (const auto& [key, row] : *rows) {
      after = key;
      if (!row.value("erased", false)) continue;
      const std::string rest = key.substr(std::string("customer/").size());
      const size_t slash = rest.find('/');
      if (slash == std::string::npos) continue;
      const std::string merchant = rest.substr(0, slash), customer = rest.substr(slash + 1);
      // Every key of theirs, not only the first: two writers may each have drawn one
      // across a failover. Keys destroyed already are skipped.
      size_t destroyed = 0;
      LEDGER_RETURN_IF_ERROR(ctx.keyring->DestroyCustomer(merchant, customer, &destroyed));
      if (destroyed > 0) ++swept;
    }
    if (rows->size() < 1000) return swept;
  }
}

}  // namespace api
