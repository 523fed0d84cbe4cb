// Sealing secrets at rest (subscriber secrets now, personal data later): AES-256-GCM
// (OpenSSL) under a 256-bit key, a random 96-bit nonce per sealing, the caller's associated
// data bound in. Sealed form: nonce (12) || ciphertext || tag (16). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger {

using SecretKey = std::array<uint8_t, 32>;

// Sealed bytes are the plaintext's length plus this (nonce 12, tag 16).
inline constexpr size_t kSealOverheadBytes = 28;
using Sha256DigestBytes = std::array<uint8_t, 32>;

Result<std::string> Seal(const SecretKey& key, std::string_view plaintext, std::string_view associated_data);
// The same into `out`, which holds plaintext.size() + kSealOverheadBytes bytes.
Status SealInto(const SecretKey& key, std::string_view plaintext, std::string_view associated_data, char* out);
// Errors: Corruption when the bytes, the key or the associated data do not match.
Result<std::string> Unseal(const SecretKey& key, std::string_view sealed, std::string_view associated_data);

// HMAC-SHA256 of `message` under `key` (a keyed digest that reveals nothing to test guesses
// against without the key).
Sha256DigestBytes HmacSha256(const SecretKey& key, std::string_view message);
// The same with a key of any length (a webhook subscriber's secret, as the subscriber has it).
Sha256DigestBytes HmacSha256(std::string_view key, std::string_view message);

// What a personal field is bound to (DESIGN §12): the shard, the event's position and the
// key id, so sealed bytes moved to another event or key do not open.
// Built on the stack: the store seals every personal event on its deciding thread.
struct PersonalAd {
  static constexpr size_t kPrefixBytes = 18;  // "ledger personal v1"
  char bytes[kPrefixBytes + 4 + 8 + 8];
  operator std::string_view() const { return std::string_view(bytes, sizeof bytes); }
};
PersonalAd PersonalAssociatedData(uint32_t shard, uint64_t position, uint64_t key_id);

// Reads a key file: 64 hex digits (surrounding whitespace allowed) or exactly 32 raw bytes.
// Refused when group or others may read it (mode & 077). Errors never include its content.
Result<SecretKey> LoadSecretKeyFile(const std::string& path);

}  // namespace ledger
