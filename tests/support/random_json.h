// Random JSON values for the MessagePack tests: every JSON type nlohmann holds (floats and
// binary included), integers of every width and sign, strings past 255 bytes, nesting.
#pragma once

#include <nlohmann/json.hpp>
#include <random>

namespace testing_support {

nlohmann::json RandomJson(std::mt19937_64& rng, int depth = 0);

}  // namespace testing_support
