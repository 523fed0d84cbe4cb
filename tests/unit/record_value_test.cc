// Record, the fees view's form for its values, must be indistinguishable in the store from
// the JSON object it stands for: the same MessagePack bytes (so the same state digests),
// the same sums and overflow flag as AddTo, and a clear failure for stored bytes that are
// not such an object. Random cases print their seed.
#include <gtest/gtest.h>

#include <climits>
#include <random>

#include "ledger/status.h"
#include "projections/event_reading.h"
#include "projections/record_value.h"
#include "projections/msgpack_reader.h"
#include "projections/read_model_store.h"
#include "tests/support/temp_dir.h"

namespace {

using Json = nlohmann::json;
using ledger::Position;
using projections::Record;
using testing_support::TempDir;

std::string Nlohmann(const Json& v) {
  std::string out;
  Json::to_msgpack(v, nlohmann::detail::output_adapter<char>(out));
  return out;
}

std::string Encoded(const Record& r) {
  std::string out;
  r.AppendMsgpack(&out);
  return out;
}

// A random object of a record's shape: names of 0-40 bytes (any byte, so key order is
// bytewise), integers at every MessagePack boundary, booleans, strings across the length
// forms, nested objects, lists of objects, 0-20 fields (the map header changes form at 16).
Json RandomRecordObject(std::mt19937_64& rng, int depth = 0) {
  static const int64_t kIntegers[] = {0,     1,      127,        128,        255,      256,     65535,
                                      65536, -1,     -32,        -33,        -128,     -129,    -32768,
                                      -32769, 4294967295LL, 4294967296LL, INT64_MAX, INT64_MIN, -2147483649LL};
  Json o = Json::object();
  const int fields = static_cast<int>(rng() % (depth == 0 ? 21 : 6));
  for (int i = 0; i < fields; ++i) {
    std::string name(rng() % 41, '\0');
    for (char& c : name) c = static_cast<char>(rng() % 256);
    switch (rng() % 6) {
      case 0: o[name] = kIntegers[rng() % (sizeof kIntegers / sizeof kIntegers[0])]; break;
      case 1: o[name] = static_cast<int64_t>(rng()); break;
      case 2: o[name] = (rng() % 2) == 0; break;
      case 3: o[name] = depth < 3 ? RandomRecordObject(rng, depth + 1) : Json(1); break;
      case 4: {  // a list of records (the array header changes form at 16)
        Json items = Json::array();
        const size_t n = depth < 2 ? rng() % 18 : 0;
        for (size_t k = 0; k < n; ++k) items.push_back(RandomRecordObject(rng, depth + 1));
        o[name] = std::move(items);
        break;
      }
      default: o[name] = std::string(rng() % 300, static_cast<char>('a' + rng() % 26)); break;
    }
  }
  return o;
}

TEST(Record, WritesTheJsonObjectsBytesAndReadsThemBack) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; ++round) {
    const Json o = RandomRecordObject(rng);
    Record r;
    ASSERT_TRUE(Record::FromJson(o, &r)) << "seed " << seed;
    const std::string want = Nlohmann(o);
    ASSERT_EQ(Encoded(r), want) << "seed " << seed << " round " << round;
    Record back;
    ASSERT_TRUE(Record::FromMsgpack(want, &back)) << "seed " << seed;
    EXPECT_EQ(back.ToJson(), o) << "seed " << seed;
    EXPECT_EQ(Encoded(back), want) << "seed " << seed;
  }
  // Null is absent: the same byte as JSON null, and an empty object stays an object.
  Record none;
  EXPECT_TRUE(none.is_null());
  EXPECT_EQ(Encoded(none), Nlohmann(Json()));
  none.MakeObject();
  EXPECT_EQ(Encoded(none), Nlohmann(Json::object()));
}

TEST(Record, FieldsSetInAnyOrderAndRepeatedKeysEndAsTheJsonObjectWould) {
  Record r;
  r.SetInteger("net_minor", 5);
  r.SetText("kind", "fee");
  r.SetInteger("charged_minor", 7);
  r.SetBoolean("net_minor", true);  // another kind replaces the field
  EXPECT_EQ(r.ToJson(), (Json{{"charged_minor", 7}, {"kind", "fee"}, {"net_minor", true}}));
  EXPECT_EQ(Encoded(r), Nlohmann(r.ToJson()));
  // Stored bytes with a repeated key, out of order: the last one stands, as ReadMsgpack has it.
  const std::string bytes = std::string("\x83\xA1" "z\x01\xA1" "a\x02\xA1" "z\x03", 10);
  Record read;
  ASSERT_TRUE(Record::FromMsgpack(bytes, &read));
  EXPECT_EQ(read.ToJson(), projections::ReadMsgpack(bytes));
  EXPECT_EQ(read.Integer("z"), 3);
  EXPECT_EQ(read.Integer("a"), 2);
  EXPECT_EQ(read.Integer("missing"), std::nullopt);
  // The same for a repeated nested map and list: the last one stands whole, not merged.
  const Json first = Json{{"m", Json{{"a", 1}}}, {"l", Json::array({Json{{"x", 1}}})}};
  const Json last = Json{{"m", Json{{"b", 2}}}, {"l", Json::array({Json{{"y", 2}}})}};
  std::string repeated = std::string("\x84", 1);
  for (const Json* part : {&first, &last})
    for (const auto& [name, v] : part->items()) {
      repeated += Nlohmann(Json(name));
      repeated += Nlohmann(v);
    }
  Record nested;
  ASSERT_TRUE(Record::FromMsgpack(repeated, &nested));
  EXPECT_EQ(nested.ToJson(), projections::ReadMsgpack(repeated));
  EXPECT_EQ(nested.ToJson(), last);
}

TEST(Record, AddsAndOverflowsExactlyAsAddToOnJson) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  const int64_t kDeltas[] = {1, -1, 0, 1000, -1000, INT64_MAX, INT64_MIN, INT64_MAX / 2, INT64_MIN / 2};
  const char* const kNames[] = {"balance_minor", "net_minor", "postings", "charged_minor"};
  for (int round = 0; round < 200; ++round) {
    Json j;
    Record r;
    for (int step = 0; step < 30; ++step) {
      const char* name = kNames[rng() % 4];
      const int64_t delta = (rng() % 3 == 0) ? static_cast<int64_t>(rng()) : kDeltas[rng() % 9];
      projections::AddTo(j, name, delta);
      r.Add(name, delta);
      ASSERT_EQ(Encoded(r), Nlohmann(j)) << "seed " << seed << " round " << round << " step " << step;
    }
  }
}

TEST(Record, BytesThatAreNotARecordAreRefused) {
  const Json not_records[] = {Json::array({1}),           5,
                              "text",                     Json{{"a", Json::array({1})}},
                              Json{{"a", Json::array({Json::object(), nullptr})}},
                              Json{{"a", Json::array({Json::array()})}},
                              Json{{"a", nullptr}},       Json{{"a", 0.5}},
                              Json{{"a", std::numeric_limits<uint64_t>::max()}},
                              Json{{"a", Json{{"b", Json{{"c", Json::array({1})}}}}}}};
  for (const Json& v : not_records) {
    Record r;
    EXPECT_FALSE(Record::FromMsgpack(Nlohmann(v), &r)) << v.dump();
    EXPECT_TRUE(r.is_null()) << v.dump();
    EXPECT_FALSE(Record::FromJson(v, &r)) << v.dump();
    EXPECT_TRUE(r.is_null()) << v.dump();
  }
  Json deep = Json::object();
  for (int i = 0; i <= Record::kDepthMax + 1; ++i) deep = Json{{"x", std::move(deep)}};
  Record r;
  EXPECT_FALSE(Record::FromMsgpack(Nlohmann(deep), &r));
  EXPECT_FALSE(Record::FromJson(deep, &r));
  const std::string good = Nlohmann(Json{{"balance_minor", 300}, {"kind", "fee"}});
  for (size_t cut = 0; cut < good.size(); ++cut) EXPECT_FALSE(Record::FromMsgpack(good.substr(0, cut), &r)) << cut;
  EXPECT_FALSE(Record::FromMsgpack(good + '\x01', &r));  // trailing bytes
  EXPECT_FALSE(Record::FromMsgpack(std::string("\x81\x01\x02", 3), &r));  // a key that is not a string
  EXPECT_FALSE(Record::FromMsgpack(std::string("\x81\xA1" "a\x82\xA1" "b\x01", 6), &r));  // a nested map cut short
}

// The same changes through records and through JSON give the same stored state, entry
// count and digest, including keys first read in one form and then in the other.
TEST(Record, ATxnOfRecordsEndsInTheStateAndDigestOfJson) {
  TempDir dir;
  auto run = [&](const std::string& path, bool as_record) {
    auto store = projections::ProjectionStore::Open(path, "fees");
    LEDGER_INVARIANT(store.ok());
    for (uint64_t batch = 1; batch <= 3; ++batch) {
      projections::StateTxn t(store->get());
      for (int i = 0; i < 50; ++i) {
        const std::string key = "balance/acct" + std::to_string((i * 7 + batch) % 13) + "/USD";
        const int64_t delta = (i % 5 == 0) ? -static_cast<int64_t>(batch) * 11 : i;
        if (as_record) t.MutableRecord(key).Add("balance_minor", delta);
        else projections::AddTo(t.Mutable(key), "balance_minor", delta);
      }
      if (as_record) {
        // Read as JSON, then again as a record: converted both ways in place.
        projections::AddTo(t.Mutable("balance/acct1/USD"), "postings", 1);
        t.MutableRecord("balance/acct1/USD").Add("postings", 1);
        Record& day = t.MutableRecord("day/" + std::to_string(batch));
        if (day.is_null()) day.SetText("kind", "fee");
        t.MutableRecord("empty/" + std::to_string(batch));  // asked for, never set: stays absent
        Record& cap = t.PutRecord("capture/" + std::to_string(batch));
        cap.SetText("id", "c" + std::to_string(batch));
        cap.Child("contributors").Child("platform").Add("charged_minor", 5);
        cap.Child("contributors").Child("platform").SetText("kind", "fee");
        if (batch > 1) {
          const Record& before = t.GetRecord("capture/1");  // stored, read without changing
          EXPECT_EQ(before.Text("id"), "c1");
          const Record* contributors = before.Find("contributors");
          const Record* platform = contributors ? contributors->Find("platform") : nullptr;
          EXPECT_TRUE(platform != nullptr && platform->Integer("charged_minor") == 5);
        }
      } else {
        projections::AddTo(t.Mutable("balance/acct1/USD"), "postings", 2);
        Json& day = t.Mutable("day/" + std::to_string(batch));
        if (day.is_null()) day = {{"kind", "fee"}};
        t.Mutable("empty/" + std::to_string(batch));
        t.Put("capture/" + std::to_string(batch),
              Json{{"id", "c" + std::to_string(batch)},
                   {"contributors", Json{{"platform", Json{{"charged_minor", 5}, {"kind", "fee"}}}}}});
        if (batch > 1) {
          EXPECT_EQ(t.Get("capture/1")["id"], "c1");
        }
      }
      EXPECT_TRUE((*store)->Commit(t, Position(batch), 0).ok());
    }
    return (*store)->progress();
  };
  const projections::Progress json = run(dir.Sub("json"), false);
  const projections::Progress records = run(dir.Sub("records"), true);
  EXPECT_EQ(records.digest, json.digest);
  EXPECT_EQ(records.entries, json.entries);
  EXPECT_EQ(records.entries, 13u + 3u + 3u);
}

TEST(Record, AStoredValueThatIsNotARecordFailsTheTxnAndCommitsNothing) {
  TempDir dir;
  auto store = projections::ProjectionStore::Open(dir.Sub("fees"), "fees");
  ASSERT_TRUE(store.ok());
  {
    projections::StateTxn t(store->get());
    t.Put("balance/x/USD", Json{{"list", Json::array({1})}});
    ASSERT_TRUE((*store)->Commit(t, Position(1), 0).ok());
  }
  const projections::Progress before = (*store)->progress();
  projections::StateTxn t(store->get());
  t.MutableRecord("balance/y/USD").Add("balance_minor", 5);
  Record& bad = t.MutableRecord("balance/x/USD");
  EXPECT_TRUE(bad.is_null());
  EXPECT_EQ(t.status().code(), ledger::Code::kCorruption);
  EXPECT_FALSE((*store)->Commit(t, Position(2), 0).ok());
  EXPECT_EQ((*store)->progress().digest, before.digest);
  auto absent = (*store)->Get("balance/y/USD");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

}  // namespace
