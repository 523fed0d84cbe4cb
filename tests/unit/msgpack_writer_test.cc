// The read models' MessagePack writer must write exactly nlohmann's bytes: stored values
// and state digests depend on them. Every length and integer boundary, then random values.
#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <random>

#include "projections/msgpack_writer.h"
#include "tests/support/random_json.h"

namespace {

using Json = nlohmann::json;

std::string Ours(const Json& v) {
  std::string out;
  projections::AppendMsgpack(v, &out);
  return out;
}

std::string Theirs(const Json& v) {
  std::string out;
  Json::to_msgpack(v, nlohmann::detail::output_adapter<char>(out));
  return out;
}

TEST(MsgpackWriter, WritesNlohmannsBytesAtEveryBoundary) {
  std::vector<Json> values = {nullptr, true, false, 0, -0, 0.5, Json::binary({1, 2, 3})};
  const int64_t signed_edges[] = {1, 31, 32, 33, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                                  std::numeric_limits<int64_t>::max()};
  for (int64_t e : signed_edges) {
    for (int64_t d : {-1, 0, 1}) {
      if (e == std::numeric_limits<int64_t>::max() && d == 1) continue;
      values.push_back(e + d);
      values.push_back(-(e + d));
      values.push_back(static_cast<uint64_t>(e + d));
    }
  }
  for (int64_t e : {-32LL, -33LL, -128LL, -129LL, -32768LL, -32769LL, -2147483648LL, -2147483649LL})
    values.push_back(e);
  values.push_back(std::numeric_limits<int64_t>::min());
  values.push_back(std::numeric_limits<uint64_t>::max());
  for (size_t n : {0, 1, 31, 32, 255, 256, 65535, 65536}) values.push_back(std::string(n, 'x'));
  for (size_t n : {0, 1, 15, 16, 65535, 65536}) {
    Json a = Json::array();
    Json o = Json::object();
    for (size_t i = 0; i < n; ++i) {
      a.push_back(static_cast<int64_t>(i));
      char key[24];
      std::snprintf(key, sizeof key, "k%08zu", i);
      o[key] = static_cast<int64_t>(i) - 40;
    }
    values.push_back(a);
    values.push_back(o);
  }
  for (const Json& v : values) {
    const std::string want = Theirs(v);
    EXPECT_EQ(Ours(v), want) << v.dump().substr(0, 80);
  }
}

TEST(MsgpackWriter, WritesNlohmannsBytesForRandomValues) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 2000; ++i) {
    const Json v = testing_support::RandomJson(rng);
    ASSERT_EQ(Ours(v), Theirs(v)) << "seed " << seed << " value " << i;
  }
}

}  // namespace
