// Personal data (DESIGN §12): sealed into the event by the store once the position is
// known, bound to shard, position and key id; the keyring's keys wrapped, destroyed for
// good on erasure; the HTTP story of a customer registered with personal fields, shown
// only to their merchant, erased, with the money and the chain untouched.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <filesystem>
#include <fstream>


#include <thread>

#include "ledger/domain/decider.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/keyring_replicator.h"
#include "ledger/keyring.h"
#include "ledger/record_codec.h"
#include "ledger/store_keys.h"
#include "api/log_http_source.h"
#include "api/personal.h"
#include "tests/support/api_fixture.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using namespace ledger::domain;
using testing_support::AllFileBytes;
using testing_support::TempDir;
using api::Response;
using Json = nlohmann::json;

namespace {

constexpr char kName[] = "Zelda Quixote-Lovelace";
constexpr char kEmail[] = "zql.personal-test@example.invalid";

PersonalInput Personal(uint64_t key_id, const SecretKey& key) {
  PersonalInput p;
  p.key_id = key_id;
  p.data_key = key;
  p.name = kName;
  p.email = kEmail;
  p.phone = "+49 30 1234567";
  p.city = "Berlin";
  p.country = "DE";
  return p;
}

Result<AppendCommand> RegisterWithPersonal(const std::string& customer, uint64_t key_id, const SecretKey& key) {
  DecideContext ctx{"m1", "", {}, {7, 7}, ShardId(0)};
  return Decide(DomainState{}, ctx, RegisterCustomer{customer, "", Personal(key_id, key)});
}

// Every file under `dir`, concatenated.

Result<std::unique_ptr<EventStore>> OpenStore(const TempDir& dir) {
  StoreOptions o;
  o.path = dir.Sub("store");
  return EventStore::Open(o);
}

TEST(PersonalSealing, TheStoreSealsAtItsPositionAndNothingPlainIsStored) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_TRUE(store.ok());
  SecretKey key{};
  key[3] = 9;
  auto cmd = RegisterWithPersonal("c1", 77, key);
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  ASSERT_TRUE(cmd->events.front().seal.has_value());
  auto appended = (*store)->Append(std::move(cmd).value());
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  const Position at = appended->first_position;
  auto events = (*store)->ReadRange(at, 1);
  ASSERT_TRUE(events.ok() && events->size() == 1);
  const schema::Event* e = VerifyRecord(events->front().record);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->personal_key_id(), 77u);
  const std::string_view sealed(reinterpret_cast<const char*>(e->personal()->data()), e->personal()->size());
  EXPECT_EQ(events->front().record.find(kName), std::string::npos);
  EXPECT_EQ(events->front().record.find(kEmail), std::string::npos);
  // It opens with the key at its own position only.
  auto plain = Unseal(key, sealed, PersonalAssociatedData(0, at.value(), 77));
  ASSERT_TRUE(plain.ok());
  const auto* p = flatbuffers::GetRoot<schema::PersonalData>(plain->data());
  EXPECT_EQ(p->name()->str(), kName);
  EXPECT_EQ(p->email()->str(), kEmail);
  EXPECT_FALSE(Unseal(key, sealed, PersonalAssociatedData(0, at.value() + 1, 77)).ok()) << "moved to another position";
  EXPECT_FALSE(Unseal(key, sealed, PersonalAssociatedData(0, at.value(), 78)).ok()) << "under another key id";
  Position through;
  EXPECT_TRUE(VerifyChain(**store, &through).ok()) << "the chain covers the sealed bytes";
  store->reset();
  const std::string files = AllFileBytes(dir.path());
  EXPECT_EQ(files.find(kName), std::string::npos);
  EXPECT_EQ(files.find(kEmail), std::string::npos);
}

// The sealing benchmark's baseline (DecideContext::seal_personal = false): the same fields
// written plain under key id 0, the format of events from before sealing; with sealing on
// (always, in ledgerd) personal data without a key is refused.
TEST(PersonalSealing, TheBenchmarkBaselineWritesKeyIdZeroAndSealingRefusesIt) {
  SecretKey none{};
  DecideContext plain{"m1", "", {}, {7, 7}, ShardId(0)};
  plain.seal_personal = false;
  auto cmd = Decide(DomainState{}, plain, RegisterCustomer{"c1", "", Personal(0, none)});
  ASSERT_TRUE(cmd.ok()) << cmd.status().ToString();
  EXPECT_FALSE(cmd->events.front().seal.has_value());
  const schema::Event* e = VerifyRecord(cmd->events.front().record);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->personal_key_id(), 0u);
  const auto* p = flatbuffers::GetRoot<schema::PersonalData>(e->personal()->data());
  EXPECT_EQ(p->name()->str(), kName);
  auto refused = RegisterWithPersonal("c1", 0, none);
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << "sealing on: personal data needs a data key";
}

TEST(PersonalSealing, ARecordThatDoesNotMatchItsSealIsRefused) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_TRUE(store.ok());
  SecretKey key{};
  auto cmd = RegisterWithPersonal("c1", 77, key);
  ASSERT_TRUE(cmd.ok());
  AppendCommand wrong_size = *cmd;
  wrong_size.events.front().seal->plaintext += "x";  // no longer the placeholder's size
  EXPECT_EQ((*store)->Append(std::move(wrong_size)).status().code(), Code::kInvalidArgument);
  AppendCommand no_seal = *cmd;
  no_seal.events.front().seal.reset();  // names a key but brings nothing to seal
  EXPECT_EQ((*store)->Append(std::move(no_seal)).status().code(), Code::kInvalidArgument);
  AppendCommand other_key = *cmd;
  other_key.events.front().seal->key_id = 78;
  EXPECT_EQ((*store)->Append(std::move(other_key)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ((*store)->head().position.value(), 0u) << "nothing was written";
  // The decider refuses bad fields by name, never echoing them.
  PersonalInput bad = Personal(77, key);
  bad.email = "not-an-address";
  DecideContext ctx{"m1", "", {}, {7, 7}, ShardId(0)};
  auto refused = Decide(DomainState{}, ctx, RegisterCustomer{"c2", "", bad});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("/email:", 0), 0u);
  EXPECT_EQ(refused.status().message().find("not-an-address"), std::string::npos);
}

TEST(Keyring, OneKeyPerCustomerWrappedAndDestroyedForGood) {
  TempDir dir;
  SecretKey secrets{};
  secrets[0] = 1;
  const std::string path = dir.Sub("keyring");
  uint64_t id = 0;
  SecretKey key{};
  {
    auto ring = Keyring::Open(path, secrets);
    ASSERT_TRUE(ring.ok());
    auto a = (*ring)->KeyFor("m1", "c1");
    ASSERT_TRUE(a.ok());
    EXPECT_NE(a->key_id, 0u);
    auto again = (*ring)->KeyFor("m1", "c1");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->key_id, a->key_id);
    EXPECT_EQ(again->key, a->key);
    auto other = (*ring)->KeyFor("m2", "c1");
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->key_id, a->key_id) << "customers are per merchant";
    id = a->key_id;
    key = a->key;
  }
  // Reopened: the same key; with another secrets key it does not open.
  {
    SecretKey wrong = secrets;
    wrong[0] = 2;
    auto ring = Keyring::Open(path, wrong);
    ASSERT_TRUE(ring.ok());
    EXPECT_EQ((*ring)->Get(id).status().code(), Code::kCorruption);
  }
  auto ring = Keyring::Open(path, secrets);
  ASSERT_TRUE(ring.ok());
  auto got = (*ring)->Get(id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, key);
  EXPECT_FALSE((*ring)->Get(12345).value().has_value()) << "a key this keyring never held";
  // The wrapped bytes as stored (white box: the keyring's own layout).
  std::string wrapped;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw).ok());
    std::string k = "key/";
    keys::PutBigEndian64(&k, id);
    ASSERT_TRUE(raw->Get(rocksdb::ReadOptions(), k, &wrapped).ok());
    delete raw;
  }
  ASSERT_EQ(wrapped.size(), 32 + kSealOverheadBytes);
  ASSERT_TRUE((*ring)->Destroy(id).ok());
  EXPECT_EQ((*ring)->Get(id).status().code(), Code::kNotFound);
  EXPECT_TRUE((*ring)->Destroy(id).ok()) << "idempotent";
  EXPECT_EQ((*ring)->KeyFor("m1", "c1").status().code(), Code::kInvalidArgument) << "no new key for an erased customer";
  EXPECT_EQ((*ring)->KeyIdOf("m1", "c1").value().value_or(0), id);
  ring->reset();
  EXPECT_EQ(AllFileBytes(path).find(wrapped), std::string::npos) << "the wrapped key is still on the disk";
}

// The keyring as ledgerd keeps it, in the event store's own family: keys survive the store's
// reopening, a destroyed key's wrapped bytes leave the store's directory (its write-ahead
// log included), a read-only instance has no keyring, and a keyring of its own from an
// earlier version is moved in (tombstones honoured) and deleted.
TEST(Keyring, InTheEventStoreFamilySharingItsLog) {
  TempDir dir;
  SecretKey secrets{};
  secrets[3] = 9;
  StoreOptions so;
  so.path = dir.Sub("store");
  // A keyring of its own, as session 4's nodes made them: one live key, one destroyed, and
  // a customer with a second key (drawn by another writer across a failover).
  uint64_t old_live = 0, old_gone = 0, second = 0;
  SecretKey old_key{};
  {
    auto old = Keyring::Open(dir.Sub("keyring"), secrets);
    ASSERT_TRUE(old.ok());
    auto a = (*old)->KeyFor("m1", "old-a");
    auto b = (*old)->KeyFor("m1", "old-b");
    ASSERT_TRUE(a.ok() && b.ok());
    old_live = a->key_id;
    old_key = a->key;
    old_gone = b->key_id;
    ASSERT_TRUE((*old)->Destroy(old_gone).ok());
    auto other_node = Keyring::Open(dir.Sub("other"), secrets);
    ASSERT_TRUE(other_node.ok());
    auto drawn = (*other_node)->KeyFor("m1", "old-a");
    ASSERT_TRUE(drawn.ok());
    second = drawn->key_id;
    auto records = (*other_node)->Scan(0, 10);
    ASSERT_TRUE(records.ok() && records->size() == 1u);
    ASSERT_TRUE((*old)->Apply(records->front()).ok());  // as the keyring topic brings it
  }
  uint64_t id = 0;
  SecretKey key{};
  {
    auto store = EventStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto ring = (*store)->OpenKeyring(secrets);
    ASSERT_TRUE(ring.ok()) << ring.status().ToString();
    auto a = (*ring)->KeyFor("m1", "c1");
    ASSERT_TRUE(a.ok());
    id = a->key_id;
    key = a->key;
    auto again = (*ring)->KeyFor("m1", "c1");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->key_id, id);
    ASSERT_TRUE((*ring)->ImportFrom(dir.Sub("keyring"), secrets).ok());
    EXPECT_FALSE(std::filesystem::exists(dir.Sub("keyring"))) << "the old keyring is deleted once imported";
    EXPECT_TRUE((*ring)->ImportFrom(dir.Sub("keyring"), secrets).ok()) << "nothing to import: nothing to do";
    auto live = (*ring)->Get(old_live);
    ASSERT_TRUE(live.ok() && live->has_value());
    EXPECT_EQ(**live, old_key);
    EXPECT_EQ((*ring)->KeyIdOf("m1", "old-a").value().value_or(0), old_live);
    EXPECT_EQ((*ring)->Get(old_gone).status().code(), Code::kNotFound) << "a destroyed key stays destroyed";
    EXPECT_EQ((*ring)->KeyFor("m1", "old-b").status().code(), Code::kInvalidArgument) << "an erased customer stays erased";
    // Both of old-a's keys came with their owner: an erasure destroys both.
    size_t destroyed = 0;
    ASSERT_TRUE((*ring)->DestroyCustomer("m1", "old-a", &destroyed).ok());
    EXPECT_EQ(destroyed, 2u);
    EXPECT_TRUE((*ring)->Destroyed(old_live));
    EXPECT_TRUE((*ring)->Destroyed(second));
    // A read-only instance of the store has no keyring to draw from.
    StoreOptions ro = so;
    ro.secondary_path = dir.Sub("secondary");
    auto secondary = EventStore::Open(ro);
    ASSERT_TRUE(secondary.ok()) << secondary.status().ToString();
    EXPECT_EQ((*secondary)->OpenKeyring(secrets).status().code(), Code::kInvalidArgument);
    ring->reset();
  }
  auto store = EventStore::Open(so);
  ASSERT_TRUE(store.ok());
  auto ring = (*store)->OpenKeyring(secrets);
  ASSERT_TRUE(ring.ok());
  auto got = (*ring)->Get(id);
  ASSERT_TRUE(got.ok() && got->has_value()) << "the key survives the store's reopening";
  EXPECT_EQ(**got, key);
  std::string wrapped;
  {
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), so.path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    size_t keyring_at = names.size();
    for (size_t i = 0; i < names.size(); ++i) {
      families.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
      if (names[i] == "keyring") keyring_at = i;
    }
    ASSERT_LT(keyring_at, names.size()) << "the store has a keyring family";
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), so.path, families, &handles, &raw).ok());
    std::string k = "key/";
    keys::PutBigEndian64(&k, id);
    EXPECT_TRUE(raw->Get(rocksdb::ReadOptions(), handles[keyring_at], k, &wrapped).ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  ASSERT_EQ(wrapped.size(), 32 + kSealOverheadBytes);
  ASSERT_NE(AllFileBytes(so.path).find(wrapped), std::string::npos) << "white box: the bytes the test looks for";
  ASSERT_TRUE((*ring)->Destroy(id).ok());
  EXPECT_EQ((*ring)->Get(id).status().code(), Code::kNotFound);
  ring->reset();
  store->reset();
  EXPECT_EQ(AllFileBytes(so.path).find(wrapped), std::string::npos) << "the wrapped key is still in the store's files";
}

// Two nodes' keyrings over the keyring topic: a key drawn on the writer opens on the
// standby; an erasure destroys it on both; a node that starts later gets the same state
// from the topic's beginning; a keyring that cannot publish draws no key.
TEST(KeyringReplication, KeysAndTombstonesReachEveryNode) {
  auto cluster = kafka::EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  const kafka::ClientOptions kafka{(*cluster)->bootstrap(), ShardId(0), {}};
  TempDir dir;
  SecretKey secrets{};
  secrets[5] = 5;
  auto writer = Keyring::Open(dir.Sub("w"), secrets);
  auto standby = Keyring::Open(dir.Sub("s"), secrets);
  ASSERT_TRUE(writer.ok() && standby.ok());
  auto w = kafka::KeyringReplicator::Start(kafka, writer->get());
  auto s = kafka::KeyringReplicator::Start(kafka, standby->get());
  ASSERT_TRUE(w.ok() && s.ok());
  auto drawn = (*writer)->KeyFor("m1", "c1");
  ASSERT_TRUE(drawn.ok()) << drawn.status().ToString();
  auto other = (*writer)->KeyFor("m1", "c2");
  ASSERT_TRUE(other.ok());
  auto on_standby = [&](uint64_t id) { return (*standby)->Get(id); };
  for (int i = 0; i < 500 && !(on_standby(other->key_id).ok() && on_standby(other->key_id)->has_value()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto copy = on_standby(drawn->key_id);
  ASSERT_TRUE(copy.ok() && copy->has_value()) << "the standby never got the key";
  EXPECT_EQ(**copy, drawn->key);
  EXPECT_EQ((*standby)->KeyIdOf("m1", "c1").value().value_or(0), drawn->key_id);
  ASSERT_TRUE((*writer)->Destroy(drawn->key_id).ok());
  for (int i = 0; i < 500 && !(*standby)->Destroyed(drawn->key_id); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(on_standby(drawn->key_id).status().code(), Code::kNotFound) << "the tombstone never came";
  // A node started later: the whole topic, in order.
  auto late = Keyring::Open(dir.Sub("late"), secrets);
  ASSERT_TRUE(late.ok());
  auto l = kafka::KeyringReplicator::Start(kafka, late->get());
  ASSERT_TRUE(l.ok());
  for (int i = 0; i < 500 && (*l)->applied() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*late)->Get(drawn->key_id).status().code(), Code::kNotFound);
  auto kept = (*late)->Get(other->key_id);
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ(**kept, other->key);
  // Kafka gone: no key is drawn that a standby could not have.
  ASSERT_TRUE((*cluster)->SetBrokerDown(1).ok());
  w->reset();  // detached: the next draw publishes through a replicator that cannot deliver
  auto cut = kafka::KeyringReplicator::Start(kafka, writer->get(), /*publish_timeout_ms=*/1000);
  ASSERT_TRUE(cut.ok());
  auto refused = (*writer)->KeyFor("m1", "c3");
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_FALSE((*writer)->KeyIdOf("m1", "c3").value().has_value()) << "nothing stored locally either";
}

using PersonalApi = testing_support::ApiTest;

TEST_F(PersonalApi, ACustomersPersonalFieldsAreSealedShownToTheirMerchantAndErased) {
  MerchantSetUp(m1_);
  const std::string body = std::string(R"({"customer_id":"c7","store_id":"s1","name":")") + kName +
                            R"(","email":")" + kEmail + R"(","address":{"city":"Berlin","country":"DE"}})";
  Response reg = Call("POST", "/v1/customers", m1_, body, {{"idempotency-key", "reg-c7"}});
  ASSERT_EQ(reg.status, 201) << reg.body;
  EXPECT_EQ(Body(reg)["profile"]["name"], kName);
  Response seen = Call("GET", "/v1/customers/c7", m1_);
  ASSERT_EQ(seen.status, 200);
  EXPECT_EQ(Body(seen)["profile"]["email"], kEmail);
  EXPECT_EQ(Body(seen)["profile"]["address"]["city"], "Berlin");
  // The analyst sees that there is a profile, not what is in it; another merchant sees nothing.
  Response analyst = Call("GET", "/v1/customers/c7?merchant_id=m1", analyst_);
  ASSERT_EQ(analyst.status, 200) << analyst.body;
  EXPECT_EQ(analyst.body.find(kName), std::string::npos);
  EXPECT_TRUE(Body(analyst)["profile"]["sealed"].get<bool>());
  EXPECT_EQ(Call("GET", "/v1/customers/c7", m2_).status, 404);
  EXPECT_EQ(Call("POST", "/v1/customers/c7/erase", m2_).status, 404) << "another tenant's customer";
  // The same request again (Idempotency-Key) replays; the digest is keyed, never plain.
  Response again = Call("POST", "/v1/customers", m1_, body, {{"idempotency-key", "reg-c7"}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.headers.front(), reg.headers.front()) << "the first result, the same position";
  auto records = store_->ReadRange(Position(1), 10000);
  ASSERT_TRUE(records.ok());
  for (const auto& r : *records) {
    EXPECT_EQ(r.record.find(kName), std::string::npos) << "in the clear at " << r.position.value();
    EXPECT_EQ(r.record.find(kEmail), std::string::npos);
  }
  // An order for c7 with money moving, then the erasure: money and chain unchanged.
  ASSERT_EQ(Call("POST", "/v1/orders", m1_,
                 R"({"order_id":"o7","store_id":"s1","customer_id":"c7","currency":"USD",
                     "lines":[{"sku":"sku-1","quantity":1,"unit_price":5000}],"shipping":0,"tax":0})")
                .status,
            201);
  ASSERT_EQ(Call("POST", "/v1/payments", m1_,
                 R"({"payment_id":"p7","order_id":"o7","amount":5000,"currency":"USD","method":"card","provider":"stripe"})",
                 {{"idempotency-key", "auth-7"}})
                .status,
            201);
  ASSERT_EQ(Call("POST", "/v1/payments/p7/captures", m1_, R"({"capture_id":"cap7","amount":5000})",
                 {{"idempotency-key", "cap-7"}})
                .status,
            201);
  // A message: its text sealed like the profile, its fee charged.
  const std::string message = R"({"message_id":"msg1","customer_id":"c7","medium":"email","body":"Your parcel left Hamburg"})";
  EXPECT_EQ(Call("POST", "/v1/messages", m1_, message).status, 400) << "a message costs a fee: Idempotency-Key";
  EXPECT_EQ(Call("POST", "/v1/messages", m2_, message, {{"idempotency-key", "msg-1"}}).status, 404);
  Response sent = Call("POST", "/v1/messages", m1_, message, {{"idempotency-key", "msg-1"}});
  ASSERT_EQ(sent.status, 201) << sent.body;
  EXPECT_EQ(Body(sent)["body"]["text"], "Your parcel left Hamburg");
  EXPECT_EQ(Body(Call("GET", "/v1/customers/c7", m1_))["messages"][0]["body"]["text"], "Your parcel left Hamburg");
  const Json balances = Body(Call("GET", "/v1/balances", m1_));
  Response erased = Call("POST", "/v1/customers/c7/erase", m1_);
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_TRUE(Body(erased)["profile"]["erased"].get<bool>());
  Response after = Call("GET", "/v1/customers/c7", m1_);
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(Body(after)["profile"]["erased"].get<bool>()) << after.body;
  EXPECT_EQ(after.body.find(kName), std::string::npos);
  EXPECT_EQ(after.body.find("Hamburg"), std::string::npos) << "the message text went with the key";
  EXPECT_EQ(Call("POST", "/v1/messages", m1_,
                 R"({"message_id":"msg2","customer_id":"c7","medium":"sms","body":"Hello again"})",
                 {{"idempotency-key", "msg-2"}})
                .status,
            422)
      << "no new personal data for an erased customer";
  EXPECT_EQ(Body(Call("GET", "/v1/balances", m1_)), balances) << "erasure moves no money";
  EXPECT_EQ(Body(after)["order_count"], 1);
  // A second erase changes nothing; no new personal data for an erased customer.
  const uint64_t head = store_->head().position.value();
  EXPECT_EQ(Call("POST", "/v1/customers/c7/erase", m1_).status, 200);
  EXPECT_EQ(store_->head().position.value(), head);
  Response refused = Call("POST", "/v1/customers", m1_, body);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.body.find(kName), std::string::npos) << "the refusal does not echo the value";
  EXPECT_EQ(Call("POST", "/v1/customers/nobody/erase", m1_).status, 404);
  // An admin erases for a named merchant.
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c8","name":"Someone Else"})").status, 201);
  EXPECT_EQ(Call("POST", "/v1/customers/c8/erase", admin_).status, 400) << "which merchant?";
  EXPECT_EQ(Call("POST", "/v1/customers/c8/erase?merchant_id=m1", admin_).status, 200);
  EXPECT_EQ(Call("POST", "/v1/customers/c8/erase", analyst_).status, 403);
  Position through;
  EXPECT_TRUE(VerifyChain(*store_, &through).ok());
}

// DECISIONS 109, found by a black-box probe: an update sealed only the fields it was given
// and the customer view replaced the whole profile with them, so a new email dropped name,
// phone and address, and the README tour's {"customer_id","store_id"} emptied the profile,
// each answered 201. An update now keeps what it does not mention; null removes phone and
// address; name and email cannot be removed; the erasure still takes everything.
TEST_F(PersonalApi, ACustomerUpdateKeepsWhatItDoesNotMentionAndNullRemoves) {
  MerchantSetUp(m1_);
  const std::string full = R"({"customer_id":"c3","store_id":"s1","name":"Ada Lovelace","email":"ada@example.com",
                               "phone":"+44 20 7946 0000","address":{"line1":"12 Square","city":"London","country":"GB"}})";
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, full).status, 201);
  auto profile = [&]() {
    Response r = Call("GET", "/v1/customers/c3", m1_);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r)["profile"];
  };
  // A new email: the rest stays, in the write's answer and on GET.
  Response changed = Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","store_id":"s1","email":"new@example.com"})");
  ASSERT_EQ(changed.status, 201) << changed.body;
  EXPECT_EQ(Body(changed)["profile"]["name"], "Ada Lovelace") << changed.body;
  Json p = profile();
  EXPECT_EQ(p["email"], "new@example.com");
  EXPECT_EQ(p["name"], "Ada Lovelace");
  EXPECT_EQ(p["phone"], "+44 20 7946 0000");
  EXPECT_EQ(p["address"]["line1"], "12 Square");
  EXPECT_EQ(p["address"]["city"], "London");
  // The README tour's form names no personal field: everything stays.
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","store_id":"s1"})").status, 201);
  EXPECT_EQ(profile(), p);
  // Null removes the phone. Name and email cannot be removed: null or "" for them reads as
  // left out (a client that writes absent fields as null keeps them), so they stay.
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","phone":null})").status, 201);
  p.erase("phone");
  EXPECT_EQ(profile(), p);
  for (const char* kept : {R"({"customer_id":"c3","name":null})", R"({"customer_id":"c3","email":""})",
                           R"({"customer_id":"c3","name":null,"email":null})"}) {
    Response r = Call("POST", "/v1/customers", m1_, kept);
    EXPECT_EQ(r.status, 201) << kept << " " << r.body;
    EXPECT_EQ(profile(), p) << kept;
  }
  // An address with a part the API does not know is refused, nothing written.
  const uint64_t head = store_->head().position.value();
  Response unknown = Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","address":{"street":"Hauptstr. 5"}})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(store_->head().position.value(), head);
  // An address replaces the address as a whole; null removes it.
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","address":{"city":"Paris","country":"FR"}})").status,
            201);
  EXPECT_EQ(profile()["address"], Json({{"line1", ""}, {"line2", ""}, {"city", "Paris"}, {"region", ""},
                                        {"postal_code", ""}, {"country", "FR"}}));
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","address":null})").status, 201);
  EXPECT_EQ(profile(), Json({{"name", "Ada Lovelace"}, {"email", "new@example.com"}}));
  // The analyst still sees only that there is a profile.
  Response analyst = Call("GET", "/v1/customers/c3?merchant_id=m1", analyst_);
  ASSERT_EQ(analyst.status, 200) << analyst.body;
  EXPECT_TRUE(Body(analyst)["profile"]["sealed"].get<bool>()) << analyst.body;
  EXPECT_EQ(analyst.body.find("Lovelace"), std::string::npos);
  // The erasure takes every field, whichever event last set it; a later update brings
  // nothing back.
  ASSERT_EQ(Call("POST", "/v1/customers/c3/erase", m1_).status, 200);
  EXPECT_EQ(profile(), Json({{"erased", true}}));
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c3","phone":null})").status, 201);
  Response after = Call("GET", "/v1/customers/c3", m1_);
  EXPECT_EQ(Body(after)["profile"], Json({{"erased", true}}));
  EXPECT_EQ(after.body.find("Lovelace"), std::string::npos);
  EXPECT_EQ(after.body.find("example.com"), std::string::npos);
}

TEST_F(PersonalApi, TheKeyringPageIsForReplicatorsWithWrappedKeysAndTombstones) {
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"k1","name":"One"})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"k2","name":"Two"})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/customers/k1/erase", m1_).status, 200);
  const std::string replicator = IssueKey("replicator", "");
  for (const std::string& other : {m1_, analyst_, admin_}) EXPECT_EQ(Call("GET", "/v1/keyring", other).status, 403);
  Response page = Call("GET", "/v1/keyring", replicator);
  ASSERT_EQ(page.status, 200) << page.body;
  const Json entries = Body(page)["entries"];
  ASSERT_EQ(entries.size(), 2u) << page.body;
  int erased = 0, wrapped = 0;
  for (const Json& e : entries) {
    if (e.value("erased", false)) ++erased;
    else if (e["customer_id"] == "k2" && e["wrapped"].get<std::string>().size() > 40) ++wrapped;
  }
  EXPECT_EQ(erased, 1);
  EXPECT_EQ(wrapped, 1);
  Response first = Call("GET", "/v1/keyring?limit=1", replicator);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(Body(first)["entries"].size(), 1u);
  Response second = Call("GET", "/v1/keyring?limit=1&after=" + Body(first)["next"].get<std::string>(), replicator);
  ASSERT_EQ(Body(second)["entries"].size(), 1u);
  EXPECT_NE(Body(second)["entries"][0]["key_id"], Body(first)["entries"][0]["key_id"]);
  EXPECT_EQ(Call("GET", "/v1/keyring?after=-1", replicator).status, 400);
}

// An erasure whose request died after CustomerErased and before the key went: the sweep
// finishes it from the log.
TEST_F(PersonalApi, TheErasureSweepDestroysTheKeysOfCustomersTheLogErased) {
  ASSERT_EQ(Call("POST", "/v1/customers", m1_, R"({"customer_id":"c5","name":"Half Erased"})").status, 201);
  auto key_id = keyring_->KeyIdOf("m1", "c5");
  ASSERT_TRUE(key_id.ok() && key_id->has_value());
  CommandRequest r;
  r.merchant_id = "m1";
  r.command_id = {5, 5};
  r.command = EraseCustomer{"c5", **key_id};  // as the route does, then "crashes"
  auto done = seq_->Execute(std::move(r));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(projector_->WaitFor(done->first_position, 5000));
  ASSERT_FALSE(keyring_->Destroyed(**key_id));
  auto swept = api::SweepErasures(ctx_);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  EXPECT_TRUE(keyring_->Destroyed(**key_id));
  EXPECT_EQ(api::SweepErasures(ctx_).value(), 0u) << "idempotent";
}

TEST_F(PersonalApi, BadMessagesAreRefusedAndChangeNothing) {
  MerchantSetUp(m1_);
  const uint64_t head = store_->head().position.value();
  const std::pair<std::string, std::string> cases[] = {
      {R"({"message_id":"m1","customer_id":"c1","medium":"fax","body":"x"})", "/medium"},
      {R"({"message_id":"m1","customer_id":"c1","medium":"email","body":""})", "/body"},
      {R"({"message_id":"m1","customer_id":"c1","medium":"email"})", "/body"},
      {R"({"message_id":"m1","customer_id":"c1","medium":"email","body":7})", "/body"},
      {R"({"message_id":"m 1","customer_id":"c1","medium":"email","body":"x"})", ""},
      {std::string(R"({"message_id":"m1","customer_id":"c1","medium":"email","body":")") + std::string(4001, 'b') + "\"}",
       "/body"}};
  for (const auto& [body, pointer] : cases) {
    Response r = Call("POST", "/v1/messages", m1_, body, {{"idempotency-key", "bad-msg"}});
    EXPECT_EQ(r.status, 400) << body.substr(0, 80) << " -> " << r.body;
    if (!pointer.empty()) {
      EXPECT_EQ(Body(r).value("pointer", ""), pointer) << r.body;
    }
  }
  EXPECT_EQ(Call("POST", "/v1/messages", m1_, R"({"message_id":"m1","customer_id":"nobody","medium":"email","body":"x"})",
                 {{"idempotency-key", "bad-msg-2"}})
                .status,
            404);
  EXPECT_EQ(store_->head().position.value(), head) << "nothing was written";
  EXPECT_FALSE(keyring_->KeyIdOf("m1", "nobody").value().has_value()) << "no key drawn for a refused message";
}

TEST_F(PersonalApi, ANodeWithoutFailoverRefusesSwitchOvers) {
  for (const char* route : {"/v1/admin/promote", "/v1/admin/demote"}) {
    Response r = Call("POST", route, admin_);
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(Body(r)["type"], "urn:ledger:problem:not-supported");
    EXPECT_EQ(Call("POST", route, m1_).status, 403);
  }
}

TEST(KeyFile, ClearRefusalsThatNeverShowTheKey) {
  TempDir dir;
  const std::string path = dir.Sub("k");
  EXPECT_EQ(api::ReadKeyFile(path).status().code(), Code::kNotFound);
  std::ofstream(path) << "lk_secret-value\n";
  ::chmod(path.c_str(), 0644);
  auto open = api::ReadKeyFile(path);
  EXPECT_EQ(open.status().code(), Code::kInvalidArgument) << "readable by others";
  EXPECT_EQ(open.status().message().find("secret-value"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(api::ReadKeyFile(path).value(), "lk_secret-value");
  std::ofstream(path, std::ios::trunc) << "\n";
  EXPECT_EQ(api::ReadKeyFile(path).status().code(), Code::kInvalidArgument) << "empty";
}

// A standby catching up over a writer's GET /v1/log from a peer that never answers (a
// partitioned host): stopping the reader cancels the read at once instead of waiting out
// three 10-second attempts (the reader's restart happens under the node's role lock).
TEST(LogHttpSource, ACatchUpFromASilentPeerIsCancelledAtOnce) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);  // connections complete in the backlog; nothing answers
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto source = api::LogHttpSource([url] { return std::vector<std::string>{url}; }, "lk_test", 0);
  const auto started = std::chrono::steady_clock::now();
  std::thread cancel([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    source->Cancel();
  });
  auto got = source->ReadCanonical(Position(1), 10);
  const auto waited_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  cancel.join();
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  EXPECT_LT(waited_ms, api::kLogHttpTimeoutMs / 2) << "the read waited for its timeout instead";
  EXPECT_EQ(source->ReadCanonical(Position(1), 10).status().code(), Code::kUnavailable) << "cancelled for good";
  ::close(listener);
}

TEST_F(PersonalApi, WithoutAKeyringPersonalFieldsAreRefusedNotStoredPlain) {
  ctx_.keyring = nullptr;
  Response r = Call("POST", "/v1/customers", m1_, R"({"customer_id":"c9","name":"Plain Text"})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Body(r)["type"], "urn:ledger:problem:not-configured");
  EXPECT_EQ(Call("GET", "/v1/customers/c9", m1_).status, 404) << "nothing was written";
}

}  // namespace
