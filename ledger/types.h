// Strong types for the ledger's numbers and names, so that a position is never passed
// where a stream version is expected. All are cheap values.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace ledger {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;
  constexpr StrongInt next() const { return StrongInt(v_ + 1); }

 private:
  Rep v_{};
};

struct PositionTag {};
struct StreamVersionTag {};
struct ShardTag {};
struct EpochTag {};

// Dense from 1 within a shard; 0 means "before the first event".
using Position = StrongInt<PositionTag, uint64_t>;
// Dense from 1 within a stream; 0 means "the stream does not exist yet".
using StreamVersion = StrongInt<StreamVersionTag, uint64_t>;
using ShardId = StrongInt<ShardTag, uint32_t>;
using Epoch = StrongInt<EpochTag, uint64_t>;

using Sha256Digest = std::array<uint8_t, 32>;

// What a command expects of a stream before one of its events is appended.
struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExact };
  Kind kind = Kind::kAny;
  StreamVersion version{};

  static ExpectedVersion Any() { return {}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, StreamVersion(0)}; }
  static ExpectedVersion Exactly(StreamVersion v) { return {Kind::kExact, v}; }
};

std::string ToHex(const Sha256Digest& d);
// Lower-case hex of any bytes, and back (false on odd length or a non-hex digit).
std::string ToHex(std::string_view bytes);
bool FromHex(std::string_view hex, std::string* bytes);

}  // namespace ledger
