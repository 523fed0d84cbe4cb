#include "tests/support/random_json.h"

#include <string>

namespace testing_support {

nlohmann::json RandomJson(std::mt19937_64& rng, int depth) {
  using Json = nlohmann::json;
  const int kind = static_cast<int>(rng() % (depth > 3 ? 7 : 9));  // deep down: no more nesting
  switch (kind) {
    case 0: return nullptr;
    case 1: return (rng() & 1) != 0;
    case 2: return static_cast<int64_t>(rng()) >> (rng() % 64);
    case 3: return rng() >> (rng() % 64);
    case 4: return std::string(rng() % 300, static_cast<char>('a' + rng() % 26));
    case 5: return static_cast<double>(rng() % 1000) / 8.0;
    case 6: return Json::binary({1, 2, static_cast<uint8_t>(rng())});
    case 7: {
      Json a = Json::array();
      for (size_t i = rng() % 20; i > 0; --i) a.push_back(RandomJson(rng, depth + 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (size_t i = rng() % 20; i > 0; --i)
        o[std::string("k").append(std::to_string(rng() % 1000))] = RandomJson(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace testing_support
