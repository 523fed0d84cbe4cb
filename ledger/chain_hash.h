// The event chain: hash_n = SHA-256(hash_{n-1} || position_n as 8 bytes big-endian || record_n).
// hash_0 is 32 zero bytes. Thread-safe (each thread uses its own OpenSSL context).
#pragma once

#include <string_view>

#include "ledger/types.h"

namespace ledger {

inline constexpr Sha256Digest kGenesisHash{};

Sha256Digest ChainHash(const Sha256Digest& previous, Position position, std::string_view record);

// Plain SHA-256 of bytes (request digests, key hashes).
Sha256Digest Sha256Of(std::string_view bytes);

}  // namespace ledger
