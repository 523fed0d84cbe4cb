// The read models' MessagePack reader must give exactly what nlohmann's strict
// from_msgpack gives, value and integer types alike, for well-formed bytes and for any
// damage (truncation, flipped bytes, trailing bytes): stored values are read back through it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "projections/msgpack_reader.h"
#include "tests/support/random_json.h"

namespace {

using Json = nlohmann::json;

Json Theirs(const std::string& bytes) {
  return Json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
}

std::string Bytes(const Json& v) {
  std::string out;
  Json::to_msgpack(v, nlohmann::detail::output_adapter<char>(out));
  return out;
}

// Equal values with equal types at every node (5 signed and 5 unsigned compare equal).
::testing::AssertionResult SameTree(const Json& a, const Json& b) {
  if (a.is_discarded() || b.is_discarded()) {
    if (a.is_discarded() == b.is_discarded()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "one is discarded: " << a.is_discarded() << " " << b.is_discarded();
  }
  if (a.type() != b.type()) return ::testing::AssertionFailure() << "types differ at " << a.dump() << " / " << b.dump();
  if (a.is_object()) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key()) return ::testing::AssertionFailure() << "keys differ";
      auto r = SameTree(ia.value(), ib.value());
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
    for (size_t i = 0; i < a.size(); ++i) {
      auto r = SameTree(a[i], b[i]);
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (a == b) return ::testing::AssertionSuccess();
  if (a.is_number_float() && std::isnan(a.get<double>()) && std::isnan(b.get<double>()))
    return ::testing::AssertionSuccess();  // a flipped byte may make a NaN, which equals nothing
  return ::testing::AssertionFailure() << a.dump() << " != " << b.dump();
}

TEST(MsgpackReader, KeepsNlohmannsIntegerTypesAndRulesOnHandWrittenBytes) {
  const std::vector<std::string> cases = {
      std::string("\x05", 1),                       // positive fixint: unsigned
      std::string("\xd0\x05", 2),                   // int8 holding 5: signed
      std::string("\xcc\x05", 2),                   // uint8: unsigned
      std::string("\xd0\xff", 2),                   // int8 -1
      std::string("\xd1\x80\x00", 3),               // int16 -32768
      std::string("\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", 9),
      std::string("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9),
      std::string("\xe0", 1),                       // negative fixint -32
      std::string("\x82\xa1k\x01\xa1k\x02", 7),     // a repeated key: the last one stands
      std::string("\x81\x01\x02", 3),               // a key that is not a string
      std::string("\x81\xd9\x01k\x01", 5),          // a key in the str8 form
      std::string("\x81\xda\x00", 3),               // a key cut inside its length
      std::string("\x91\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 10),  // [1.0]: left to nlohmann
      std::string("\xc4\x02\x01\x02", 4),           // binary: left to nlohmann
      std::string("\xc1", 1),                       // never used
      std::string("\x05\x05", 2),                   // a trailing byte
      std::string("", 0),
      std::string("\xdd\xff\xff\xff\xff", 5),       // an array claiming 4G elements
      std::string("\xdb\xff\xff\xff\xff" "abc", 8), // a string longer than its bytes
  };
  for (const std::string& c : cases) EXPECT_TRUE(SameTree(projections::ReadMsgpack(c), Theirs(c))) << Bytes(Json(c));
  EXPECT_EQ(projections::ReadMsgpack(cases[1]).type(), Json::value_t::number_integer);
  EXPECT_EQ(projections::ReadMsgpack(cases[0]).type(), Json::value_t::number_unsigned);
}

TEST(MsgpackReader, ReadsWhatNlohmannReadsForRandomAndDamagedValues) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 250; ++i) {
    const std::string bytes = Bytes(testing_support::RandomJson(rng));
    ASSERT_TRUE(SameTree(projections::ReadMsgpack(bytes), Theirs(bytes))) << "seed " << seed << " value " << i;
    // Every truncation of the short ones, some of the long ones.
    for (size_t n = 0; n < bytes.size(); n += bytes.size() < 64 ? 1 : 1 + rng() % 16) {
      const std::string cut = bytes.substr(0, n);
      ASSERT_TRUE(SameTree(projections::ReadMsgpack(cut), Theirs(cut))) << "seed " << seed << " value " << i << " cut " << n;
    }
    for (int flip = 0; flip < 8 && !bytes.empty(); ++flip) {
      std::string bad = bytes;
      bad[rng() % bad.size()] = static_cast<char>(rng());
      ASSERT_TRUE(SameTree(projections::ReadMsgpack(bad), Theirs(bad))) << "seed " << seed << " value " << i << " flip";
    }
    const std::string longer = bytes + static_cast<char>(rng());
    ASSERT_TRUE(SameTree(projections::ReadMsgpack(longer), Theirs(longer))) << "seed " << seed << " value " << i;
  }
}

}  // namespace
