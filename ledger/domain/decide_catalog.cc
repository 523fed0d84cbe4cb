// Merchant configuration, stores and listings, customers, messages.
#include <cctype>
#include <utility>

#include "ledger/domain/decide_internal.h"

namespace ledger::domain::internal {
namespace {

Status Configure(const DomainState&, const DecideContext& ctx, const ConfigureMerchant& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckCurrency(c.settlement_currency, "/settlement_currency"));
  out.Add("merchant/" + ctx.merchant_id, ExpectedVersion::Any(), schema::EventBody::MerchantConfigured,
          [c, m = ctx.merchant_id](Fbb& b) {
            return schema::CreateMerchantConfiguredDirect(
                       b, m.c_str(), c.settlement_currency.c_str(), c.paypal_webhook_id.c_str(),
                       c.paypal_cert_pem.c_str(), c.ebay_public_key.c_str(), c.ebay_store_id.c_str(),
                       c.ebay_seller_id.c_str())
                .Union();
          });
  return Status::Ok();
}

Status Open(const DomainState& s, const DecideContext& ctx, const OpenStore& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.store_id, "/store_id"));
  if (c.name.empty() || c.name.size() > 200) return Field("/name", "must be 1 to 200 characters");
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m != nullptr && m->stores.count(c.store_id)) return Rule("store-exists", "this store is already open");
  out.Add(StreamOf("store", ctx.merchant_id, c.store_id), ExpectedVersion::NoStream(),
          schema::EventBody::StoreOpened, [c](Fbb& b) {
            return schema::CreateStoreOpenedDirect(b, c.store_id.c_str(), c.name.c_str(), ChannelOf(c.channel)).Union();
          });
  return Status::Ok();
}

Status Publish(const DomainState& s, const DecideContext& ctx, const PublishListing& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.store_id, "/store_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.sku, "/sku"));
  LEDGER_RETURN_IF_ERROR(CheckCurrency(c.currency, "/currency"));
  if (c.title.empty() || c.title.size() > 500) return Field("/title", "must be 1 to 500 characters");
  if (c.price_minor < 0) return Field("/price", "must not be negative");
  if (c.stock < 0) return Field("/stock", "must not be negative");
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  const Store* store = nullptr;
  if (m != nullptr)
    if (auto it = m->stores.find(c.store_id); it != m->stores.end()) store = &it->second;
  if (store == nullptr) return Rule("store-not-found", "open the store before publishing listings");
  const std::string stream = StreamOf("store", ctx.merchant_id, c.store_id);
  auto existing = store->listings.find(c.sku);
  if (existing == store->listings.end()) {
    out.Add(stream, ExpectedVersion::Any(), schema::EventBody::ListingPublished, [c](Fbb& b) {
      return schema::CreateListingPublishedDirect(b, c.store_id.c_str(), c.sku.c_str(), c.title.c_str(),
                                                  MoneyOf(b, c.price_minor, c.currency), c.stock)
          .Union();
    });
  } else {
    const int64_t delta = c.stock - existing->second.stock;
    out.Add(stream, ExpectedVersion::Any(), schema::EventBody::ListingChanged, [c, delta](Fbb& b) {
      return schema::CreateListingChangedDirect(b, c.store_id.c_str(), c.sku.c_str(), c.title.c_str(),
                                                MoneyOf(b, c.price_minor, c.currency), c.stock, delta,
                                                "merchant edit")
          .Union();
    });
  }
  return Status::Ok();
}

}  // namespace
}  // namespace ledger::domain::internal

namespace ledger::domain {

Status CheckPersonalInput(const PersonalInput& p) {
  using internal::Field;
  const std::pair<const std::string*, std::pair<const char*, size_t>> limits[] = {
      {&p.name, {"/name", 200}},         {&p.email, {"/email", 254}},
      {&p.phone, {"/phone", 32}},        {&p.address_line1, {"/address/line1", 200}},
      {&p.address_line2, {"/address/line2", 200}}, {&p.city, {"/address/city", 100}},
      {&p.region, {"/address/region", 100}},       {&p.postal_code, {"/address/postal_code", 20}},
      {&p.country, {"/address/country", 2}},       {&p.message_body, {"/body", 4000}}};
  for (const auto& [value, limit] : limits)
    if (value->size() > limit.second)
      return Field(limit.first, "at most " + std::to_string(limit.second) + " characters");
  if (!p.email.empty() && (p.email.find('@') == std::string::npos || p.email.front() == '@' || p.email.back() == '@'))
    return Field("/email", "must be an email address");
  if (!p.country.empty() && (p.country.size() != 2 || !std::isupper(static_cast<unsigned char>(p.country[0])) ||
                             !std::isupper(static_cast<unsigned char>(p.country[1]))))
    return Field("/address/country", "must be an ISO 3166 alpha-2 code, e.g. DE");
  return Status::Ok();
}

}  // namespace ledger::domain

namespace ledger::domain::internal {

// A customer's personal fields as PersonalData bytes, checked. Errors name the field and
// the rule, never the value.
namespace {
Result<std::string> PersonalBytes(const DecideContext& ctx, const PersonalInput& p) {
  LEDGER_RETURN_IF_ERROR(CheckPersonalInput(p));
  if (p.key_id == 0 && ctx.seal_personal) return Status::InvalidArgument("personal data needs a data key");
  Fbb b(256);
  flatbuffers::Offset<schema::Address> address;
  const bool has_address = !(p.address_line1.empty() && p.address_line2.empty() && p.city.empty() && p.region.empty() &&
                             p.postal_code.empty() && p.country.empty());
  if (has_address)
    address = schema::CreateAddressDirect(b, p.address_line1.c_str(), p.address_line2.c_str(), p.city.c_str(),
                                          p.region.c_str(), p.postal_code.c_str(), p.country.c_str());
  b.Finish(schema::CreatePersonalDataDirect(b, p.name.empty() ? nullptr : p.name.c_str(),
                                            p.email.empty() ? nullptr : p.email.c_str(),
                                            p.phone.empty() ? nullptr : p.phone.c_str(), address,
                                            p.message_body.empty() ? nullptr : p.message_body.c_str()));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace

// What the store seals; key id 0 (written plain) only in the benchmark baseline.
Result<PersonalSeal> SealedPersonal(const DecideContext& ctx, const PersonalInput& p) {
  auto bytes = PersonalBytes(ctx, p);
  if (!bytes.ok()) return bytes.status();
  if (!ctx.seal_personal) return PersonalSeal{0, SecretKey{}, std::move(bytes).value()};
  return PersonalSeal{p.key_id, p.data_key, std::move(bytes).value()};
}

namespace {

constexpr uint8_t Bit(schema::PersonalField f) { return static_cast<uint8_t>(f); }
constexpr std::pair<schema::PersonalField, const char*> kPersonalFields[] = {
    {schema::PersonalField::Name, "/name"},
    {schema::PersonalField::Email, "/email"},
    {schema::PersonalField::Phone, "/phone"},
    {schema::PersonalField::Address, "/address"}};
constexpr uint8_t kEveryPersonalField = Bit(schema::PersonalField::Name) | Bit(schema::PersonalField::Email) |
                                        Bit(schema::PersonalField::Phone) | Bit(schema::PersonalField::Address);

// The personal fields `p` gives a value for: an empty one gives none (PersonalBytes leaves
// it out of the sealed bytes).
uint8_t FieldsGiven(const PersonalInput& p) {
  uint8_t given = 0;
  if (!p.name.empty()) given |= Bit(schema::PersonalField::Name);
  if (!p.email.empty()) given |= Bit(schema::PersonalField::Email);
  if (!p.phone.empty()) given |= Bit(schema::PersonalField::Phone);
  if (!(p.address_line1.empty() && p.address_line2.empty() && p.city.empty() && p.region.empty() &&
        p.postal_code.empty() && p.country.empty()))
    given |= Bit(schema::PersonalField::Address);
  return given;
}

// Name and email are in every registration DESIGN §9 describes (phone and address are the
// optional ones): an update may leave them out, never remove them. A field both given and
// removed is refused rather than guessed at.
Status CheckRemoved(const RegisterCustomer& c) {
  if ((c.removed & ~kEveryPersonalField) != 0) return Field("/removed", "not a personal field");
  const uint8_t given = c.personal ? FieldsGiven(*c.personal) : 0;
  for (const auto& [field, pointer] : kPersonalFields) {
    if ((c.removed & Bit(field)) == 0) continue;
    if (field == schema::PersonalField::Name || field == schema::PersonalField::Email)
      return Field(pointer, "cannot be removed; leave it out to keep it");
    if ((given & Bit(field)) != 0) return Field(pointer, "given and removed at once");
  }
  return Status::Ok();
}

// What an update leaves as it was: every field it neither gives nor removes.
uint8_t KeptFields(const RegisterCustomer& c) {
  const uint8_t named = c.removed | (c.personal ? FieldsGiven(*c.personal) : 0);
  return kEveryPersonalField & static_cast<uint8_t>(~named);
}

Status Register(const DomainState& s, const DecideContext& ctx, const RegisterCustomer& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.customer_id, "/customer_id"));
  LEDGER_RETURN_IF_ERROR(CheckRemoved(c));
  std::optional<PersonalSeal> personal;
  if (c.personal) {
    auto sealed = SealedPersonal(ctx, *c.personal);
    if (!sealed.ok()) return sealed.status();
    personal = std::move(sealed).value();
  }
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  Channel channel = Channel::kWeb;
  if (!c.store_id.empty()) {
    const Store* store = nullptr;
    if (m != nullptr)
      if (auto it = m->stores.find(c.store_id); it != m->stores.end()) store = &it->second;
    if (store == nullptr) return Rule("store-not-found", "the customer's store is not open");
    channel = store->channel;
  }
  const std::string stream = StreamOf("customer", ctx.merchant_id, c.customer_id);
  // One customer per merchant and id, whichever store or channel they came through.
  if (m != nullptr && m->customers.count(c.customer_id)) {
    if (personal && m->customers.at(c.customer_id))
      return Rule("customer-erased", "this customer's personal data was erased; no new personal data is taken");
    // The update names what it keeps and removes, in the clear (which fields, never their
    // values): the read models cannot open the sealed bytes to merge them (DECISIONS 109).
    out.Add(stream, ExpectedVersion::Any(), schema::EventBody::CustomerUpdated, [c, kept = KeptFields(c)](Fbb& b) {
      return schema::CreateCustomerUpdatedDirect(b, c.customer_id.c_str(), kept, c.removed).Union();
    }, "", std::move(personal));
  } else {
    out.Add(stream, ExpectedVersion::NoStream(), schema::EventBody::CustomerRegistered, [c, channel](Fbb& b) {
      return schema::CreateCustomerRegisteredDirect(b, c.customer_id.c_str(), c.store_id.c_str(), ChannelOf(channel))
          .Union();
    }, "", std::move(personal));
  }
  return Status::Ok();
}

Status Message(const DomainState& s, const DecideContext& ctx, const SendMessage& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.message_id, "/message_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.customer_id, "/customer_id"));
  if (c.medium < 0 || c.medium > 3) return Field("/medium", "must be email, sms, chat or voice");
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->configured)
    return Rule("merchant-not-configured", "set a settlement currency before sending messages");
  if (!m->customers.count(c.customer_id)) return Rule("customer-not-found", "no such customer");
  if (m->messages.count(c.message_id)) return Rule("message-exists", "this message id was already used");
  std::optional<PersonalSeal> body;
  if (c.body) {
    if (m->customers.at(c.customer_id))
      return Rule("customer-erased", "this customer's personal data was erased; no new personal data is taken");
    auto sealed = SealedPersonal(ctx, *c.body);
    if (!sealed.ok()) return sealed.status();
    body = std::move(sealed).value();
  }
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  auto fees = ComputeMessageFees(*recipe, ctx.merchant_id, Channel::kWeb, m->settlement_currency);
  if (!fees.ok()) return fees.status();
  out.Add(StreamOf("message", ctx.merchant_id, c.message_id), ExpectedVersion::NoStream(),
          schema::EventBody::MessageSent, [c, f = *fees](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreateMessageSentDirect(b, c.message_id.c_str(), c.customer_id.c_str(),
                                                   static_cast<schema::MessageMedium>(c.medium),
                                                   FeesOf(b, f.fees), &pv)
                .Union();
          }, "", std::move(body));
  return Status::Ok();
}

std::vector<flatbuffers::Offset<schema::CurrencyAmount>> AmountsOf(Fbb& b, const std::map<std::string, int64_t>& m) {
  std::vector<flatbuffers::Offset<schema::CurrencyAmount>> out;
  for (const auto& [cur, v] : m) out.push_back(schema::CreateCurrencyAmountDirect(b, cur.c_str(), v));
  return out;
}

flatbuffers::Offset<schema::FeeContributor> ContributorOf(Fbb& b, const FeeContributor& c) {
  std::vector<flatbuffers::Offset<flatbuffers::String>> bases;
  for (const auto& x : c.base_contributors) bases.push_back(b.CreateString(x));
  auto fixed = AmountsOf(b, c.fixed_minor), min = AmountsOf(b, c.min_minor), max = AmountsOf(b, c.max_minor);
  std::vector<schema::Channel> channels;
  for (Channel ch : c.channels) channels.push_back(ChannelOf(ch));
  std::vector<schema::FeeEventKind> events;
  for (FeeEvent e : c.applies_to) events.push_back(static_cast<schema::FeeEventKind>(static_cast<int>(e)));
  return schema::CreateFeeContributorDirect(
      b, c.id.c_str(), c.kind == FeeKind::kTax ? schema::FeeKind::Tax : schema::FeeKind::Fee,
      static_cast<schema::FeeBase>(static_cast<int>(c.base)), &bases, static_cast<uint32_t>(c.basis_points), &fixed,
      &min, &max, &channels, &events, c.payer_account.c_str(), c.payee_account.c_str(),
      static_cast<schema::RefundReversal>(static_cast<int>(c.refund_reverses)), c.returned_on_dispute_win);
}

Status PublishRecipe(const DomainState& s, const PublishFeeRecipe& c, EventSink& out) {
  auto recipe = ParseFeeRecipe(c.document);
  if (!recipe.ok()) return Field("/document", recipe.status().message());
  if (recipe->version <= s.current_recipe_version)
    return Rule("fee-recipe-version-not-newer", "the recipe version must be above " +
                                                    std::to_string(s.current_recipe_version));
  out.Add("fee-recipe", ExpectedVersion::Any(), schema::EventBody::FeeRecipePublished, [c, r = *recipe](Fbb& b) {
    std::vector<schema::Channel> channels;
    for (Channel ch : r.sales_tax_channels) channels.push_back(ChannelOf(ch));
    auto ch = b.CreateVector(reinterpret_cast<const int8_t*>(channels.data()), channels.size());
    auto doc = b.CreateString(c.document);
    std::vector<flatbuffers::Offset<schema::FeeContributor>> contributors;
    for (const FeeContributor& fc : r.contributors) contributors.push_back(ContributorOf(b, fc));
    auto cs = b.CreateVector(contributors);
    schema::FeeRecipePublishedBuilder fb(b);
    fb.add_version(r.version);
    fb.add_contributors(cs);
    fb.add_sales_tax_channels(flatbuffers::Offset<flatbuffers::Vector<schema::Channel>>(ch.o));
    fb.add_lost_dispute_reverses_fees(r.lost_dispute_reverses_fees);
    fb.add_document(doc);
    return fb.Finish().Union();
  });
  return Status::Ok();
}

// Outage notices: investigating -> identified -> monitoring -> resolved. Updates append;
// a status never moves backwards; resolved is final.
Status PublishOutage(const DomainState& s, const PublishOutageNotice& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.notice_id, "/notice_id"));
  if (!IsValidEntityId(c.component)) return Field("/component", "must match [A-Za-z0-9._:-]{1,64}");
  if (c.message.empty() || c.message.size() > 2000) return Field("/message", "must be 1 to 2000 characters");
  if (c.impact.size() > 64) return Field("/impact", "at most 64 characters");
  if (s.outages.count(c.notice_id)) return Rule("outage-notice-exists", "this notice id was already used");
  out.Add("outage/" + c.notice_id, ExpectedVersion::NoStream(), schema::EventBody::OutageNoticePublished, [c](Fbb& b) {
    return schema::CreateOutageNoticePublishedDirect(b, c.notice_id.c_str(), c.component.c_str(), c.impact.c_str(),
                                                     static_cast<schema::OutageStatus>(c.status), c.message.c_str(),
                                                     c.detected_at_us, c.started_at_us)
        .Union();
  });
  return Status::Ok();
}

Status UpdateOutage(const DomainState& s, const UpdateOutageNotice& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.notice_id, "/notice_id"));
  if (c.message.empty() || c.message.size() > 2000) return Field("/message", "must be 1 to 2000 characters");
  auto it = s.outages.find(c.notice_id);
  if (it == s.outages.end()) return Rule("outage-notice-not-found", "no such outage notice");
  if (it->second.Resolved()) return Rule("outage-notice-resolved", "a resolved notice is final");
  if (static_cast<int>(c.status) < it->second.status)
    return Rule("outage-status-backwards", "an outage moves investigating, identified, monitoring, resolved");
  out.Add("outage/" + c.notice_id, ExpectedVersion::Any(), schema::EventBody::OutageNoticeUpdated, [c](Fbb& b) {
    return schema::CreateOutageNoticeUpdatedDirect(b, c.notice_id.c_str(), static_cast<schema::OutageStatus>(c.status),
                                                   c.message.c_str(), c.impact.c_str())
        .Union();
  });
  return Status::Ok();
}

Status Issue(const DomainState& s, const IssueKey& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.key_id, "/key_id"));
  if (c.role == KeyRoleInput::kMerchant ? !IsValidMerchantId(c.merchant_id) : !c.merchant_id.empty())
    return Field("/merchant_id", "a merchant key names one merchant id; other roles name none");
  if (static_cast<int>(c.role) < 0 || static_cast<int>(c.role) > 4) return Field("/role", "unknown role");
  if (c.key_hash == Sha256Digest{}) return Field("/key_hash", "missing");
  if (s.keys.count(c.key_id)) return Rule("key-exists", "this key id was already used");
  out.Add("key/" + c.key_id, ExpectedVersion::NoStream(), schema::EventBody::KeyIssued, [c](Fbb& b) {
    schema::Sha256 h = ToSchema(c.key_hash);
    return schema::CreateKeyIssuedDirect(b, c.key_id.c_str(), &h, static_cast<schema::KeyRole>(c.role), c.merchant_id.c_str())
        .Union();
  });
  return Status::Ok();
}

Status Digest(const DecideContext& ctx, const PublishDigest& c, EventSink& out) {
  if (c.position == 0) return Field("/position", "must be positive");
  if (c.hash == Sha256Digest{}) return Field("/hash", "missing");
  out.Add("digest/shard-" + std::to_string(ctx.shard.value()), ExpectedVersion::Any(), schema::EventBody::DigestPublished,
          [c](Fbb& b) {
            schema::Sha256 h = ToSchema(c.hash);
            return schema::CreateDigestPublished(b, c.position, &h).Union();
          });
  return Status::Ok();
}

Status Erase(const DomainState& s, const DecideContext& ctx, const EraseCustomer& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.customer_id, "/customer_id"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->customers.count(c.customer_id)) return Rule("customer-not-found", "no such customer");
  if (m->customers.at(c.customer_id)) return Status::Ok();  // erased already: nothing new
  out.Add(StreamOf("customer", ctx.merchant_id, c.customer_id), ExpectedVersion::Any(), schema::EventBody::CustomerErased,
          [c](Fbb& b) { return schema::CreateCustomerErasedDirect(b, c.customer_id.c_str(), c.key_id).Union(); });
  return Status::Ok();
}

Status Promote(const DomainState& s, const DecideContext& ctx, const PromoteWriter& c, EventSink& out) {
  if (c.epoch == 0 || c.previous_epoch >= c.epoch) return Field("/epoch", "must be above the previous epoch");
  if (!IsValidEntityId(c.node_id)) return Field("/node_id", "must match [A-Za-z0-9._:-]{1,64}");
  if (c.advertise_url.size() > 2000) return Field("/advertise_url", "at most 2000 characters");
  out.Add("writer/" + std::to_string(ctx.shard.value()), ExpectedVersion::Any(), schema::EventBody::WriterPromoted,
          [c](Fbb& b) {
            return schema::CreateWriterPromotedDirect(b, c.epoch, c.node_id.c_str(), c.advertise_url.c_str(),
                                                      c.previous_epoch)
                .Union();
          });
  if (c.notice) return PublishOutage(s, *c.notice, out);
  return Status::Ok();
}

Status Revoke(const DomainState& s, const RevokeKey& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.key_id, "/key_id"));
  auto it = s.keys.find(c.key_id);
  if (it == s.keys.end()) return Rule("key-not-found", "no such key");
  if (it->second.revoked) return Rule("key-revoked", "the key is already revoked");
  // Without an active admin key nobody can issue or revoke keys again, and a restart mints
  // none (only the first start of an empty log does): the platform would be locked out.
  constexpr int kAdmin = static_cast<int>(schema::KeyRole::Admin);
  if (it->second.role == kAdmin) {
    bool another = false;
    for (const auto& [id, key] : s.keys) another = another || (id != c.key_id && key.role == kAdmin && !key.revoked);
    if (!another) return Rule("last-admin-key", "the last active admin key cannot be revoked; issue another admin key first");
  }
  out.Add("key/" + c.key_id, ExpectedVersion::Any(), schema::EventBody::KeyRevoked,
          [c](Fbb& b) { return schema::CreateKeyRevokedDirect(b, c.key_id.c_str()).Union(); });
  return Status::Ok();
}

bool IsValidTopic(const std::string& t) {
  if (t == "outages" || t == "disputes" || t == "digests") return true;
  return t.rfind("outages:", 0) == 0 && IsValidEntityId(t.substr(8));
}

Status Subscribe(const DomainState& s, const DecideContext& ctx, const AddSubscriber& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.subscriber_id, "/subscriber_id"));
  const bool scheme_ok = c.url.rfind("https://", 0) == 0 || c.url.rfind("http://", 0) == 0;
  if (!scheme_ok || c.url.size() > 2048) return Field("/url", "must be an http or https URL of at most 2048 characters");
  if (c.secret_sealed.empty() || c.secret_sealed.size() > 1024) return Field("/secret", "missing or too long");
  if (c.topics.empty() || c.topics.size() > 16) return Field("/topics", "must list 1 to 16 topics");
  for (size_t i = 0; i < c.topics.size(); ++i)
    if (!IsValidTopic(c.topics[i]))
      return Field("/topics/" + std::to_string(i), "must be outages, outages:<component>, disputes or digests");
  if (s.subscribers.count(c.subscriber_id)) return Rule("subscriber-exists", "this subscriber id was already used");
  // The same merchant's subscriber added before ids were scoped (DECISIONS 97) holds the id
  // it chose unscoped: a second one of that id would send the same notification ids.
  const std::string prefix = ctx.merchant_id + ":";
  if (!ctx.merchant_id.empty() && c.subscriber_id.compare(0, prefix.size(), prefix) == 0) {
    auto legacy = s.subscribers.find(c.subscriber_id.substr(prefix.size()));
    if (legacy != s.subscribers.end() && !legacy->second.removed && legacy->second.owner_merchant_id == ctx.merchant_id)
      return Rule("subscriber-exists", "this subscriber id was already used");
  }
  out.Add("subscriber/" + c.subscriber_id, ExpectedVersion::NoStream(), schema::EventBody::SubscriberAdded,
          [c, owner = ctx.merchant_id](Fbb& b) {
            std::vector<flatbuffers::Offset<flatbuffers::String>> topics;
            for (const auto& t : c.topics) topics.push_back(b.CreateString(t));
            std::vector<uint8_t> secret(c.secret_sealed.begin(), c.secret_sealed.end());
            return schema::CreateSubscriberAddedDirect(b, c.subscriber_id.c_str(), owner.c_str(), c.url.c_str(), &secret,
                                                       &topics)
                .Union();
          });
  return Status::Ok();
}

Status Notified(const DomainState& s, const DecideContext& ctx, const RecordNotification& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.subscriber_id, "/subscriber_id"));
  auto it = s.subscribers.find(c.subscriber_id);
  if (it == s.subscribers.end() || it->second.removed || it->second.owner_merchant_id != ctx.merchant_id)
    return Rule("subscriber-not-found", "no such subscriber");
  if (c.notification_id.empty() || c.notification_id.size() > 128) return Field("/notification_id", "1 to 128 characters");
  if (c.subject_position == 0) return Field("/subject_position", "must be a position");
  if (c.attempt == 0) return Field("/attempt", "attempts count from 1");
  if (c.reason.size() > 256) return Field("/reason", "at most 256 characters");
  const std::string stream = "subscriber/" + c.subscriber_id;
  if (c.delivered) {
    out.Add(stream, ExpectedVersion::Any(), schema::EventBody::NotificationDelivered, [c](Fbb& b) {
      return schema::CreateNotificationDeliveredDirect(b, c.subscriber_id.c_str(), c.notification_id.c_str(),
                                                       c.subject_position, c.attempt, c.http_status)
          .Union();
    });
  } else {
    out.Add(stream, ExpectedVersion::Any(), schema::EventBody::NotificationFailed, [c](Fbb& b) {
      return schema::CreateNotificationFailedDirect(b, c.subscriber_id.c_str(), c.notification_id.c_str(),
                                                    c.subject_position, c.attempt, c.reason.c_str(), c.will_retry,
                                                    c.next_attempt_at_us)
          .Union();
    });
  }
  return Status::Ok();
}

Status Unsubscribe(const DomainState& s, const DecideContext& ctx, const RemoveSubscriber& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.subscriber_id, "/subscriber_id"));
  // Another owner's subscriber is "not found": ids do not leak across tenants.
  const auto owned = [&](const std::string& id) {
    auto it = s.subscribers.find(id);
    return it != s.subscribers.end() && !it->second.removed && it->second.owner_merchant_id == ctx.merchant_id;
  };
  // A merchant names its subscriber "<merchant>:<id>" (DECISIONS 97); one it added before ids
  // were scoped is "<id>" in the log, and stays its own to remove (never another owner's).
  std::string id = c.subscriber_id;
  const std::string prefix = ctx.merchant_id + ":";
  if (!owned(id) && !ctx.merchant_id.empty() && id.size() > prefix.size() && id.compare(0, prefix.size(), prefix) == 0 &&
      owned(id.substr(prefix.size())))
    id = id.substr(prefix.size());
  if (!owned(id)) return Rule("subscriber-not-found", "no such subscriber");
  out.Add("subscriber/" + id, ExpectedVersion::Any(), schema::EventBody::SubscriberRemoved,
          [id](Fbb& b) { return schema::CreateSubscriberRemovedDirect(b, id.c_str()).Union(); });
  return Status::Ok();
}

}  // namespace

Status DecideCatalog(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out) {
  if (auto* x = std::get_if<ConfigureMerchant>(&c)) return Configure(s, ctx, *x, out);
  if (auto* x = std::get_if<OpenStore>(&c)) return Open(s, ctx, *x, out);
  if (auto* x = std::get_if<PublishListing>(&c)) return Publish(s, ctx, *x, out);
  if (auto* x = std::get_if<RegisterCustomer>(&c)) return Register(s, ctx, *x, out);
  if (auto* x = std::get_if<SendMessage>(&c)) return Message(s, ctx, *x, out);
  if (auto* x = std::get_if<PublishFeeRecipe>(&c)) return PublishRecipe(s, *x, out);
  if (auto* x = std::get_if<PublishOutageNotice>(&c)) return PublishOutage(s, *x, out);
  if (auto* x = std::get_if<UpdateOutageNotice>(&c)) return UpdateOutage(s, *x, out);
  if (auto* x = std::get_if<IssueKey>(&c)) return Issue(s, *x, out);
  if (auto* x = std::get_if<RevokeKey>(&c)) return Revoke(s, *x, out);
  if (auto* x = std::get_if<AddSubscriber>(&c)) return Subscribe(s, ctx, *x, out);
  if (auto* x = std::get_if<RemoveSubscriber>(&c)) return Unsubscribe(s, ctx, *x, out);
  if (auto* x = std::get_if<RecordNotification>(&c)) return Notified(s, ctx, *x, out);
  if (auto* x = std::get_if<PublishDigest>(&c)) return Digest(ctx, *x, out);
  if (auto* x = std::get_if<PromoteWriter>(&c)) return Promote(s, ctx, *x, out);
  if (auto* x = std::get_if<EraseCustomer>(&c)) return Erase(s, ctx, *x, out);
  return Status::InvalidArgument("not a catalog command");
}

}  // namespace ledger::domain::internal
