#include "ledger/store_keys.h"

#include <cstring>

#include "ledger/event_store.h"
#include "ledger/status.h"

namespace ledger::keys {
namespace {
void PutLength16(std::string* out, size_t n) {
  LEDGER_INVARIANT(n <= 0xffff);
  out->push_back(static_cast<char>((n >> 8) & 0xff));
  out->push_back(static_cast<char>(n & 0xff));
}
}  // namespace

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetBigEndian64(std::string_view in) {
  LEDGER_INVARIANT(in.size() >= 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string EventKey(Position p) {
  std::string k;
  PutBigEndian64(&k, p.value());
  return k;
}

std::string StreamPrefix(std::string_view stream) {
  std::string k;
  k.reserve(2 + stream.size());
  PutLength16(&k, stream.size());
  k.append(stream);
  return k;
}

std::string StreamVersionKey(std::string_view stream, StreamVersion v) {
  std::string k = StreamPrefix(stream);
  PutBigEndian64(&k, v.value());
  return k;
}

bool IsVersionKeyOf(std::string_view key, std::string_view stream) {
  return key.size() == 2 + stream.size() + 8 &&
         static_cast<uint8_t>(key[0]) == ((stream.size() >> 8) & 0xff) &&
         static_cast<uint8_t>(key[1]) == (stream.size() & 0xff) &&
         key.substr(2, stream.size()) == stream;
}

std::string IdempotencyKey(std::string_view merchant, std::string_view key) {
  std::string k;
  k.reserve(4 + merchant.size() + key.size());
  PutLength16(&k, merchant.size());
  k.append(merchant);
  PutLength16(&k, key.size());
  k.append(key);
  return k;
}

std::string IdempotencyValue(const IdempotencyEntry& e) {
  std::string v;
  PutBigEndian64(&v, e.first_position.value());
  for (int shift = 24; shift >= 0; shift -= 8)
    v.push_back(static_cast<char>((e.event_count >> shift) & 0xff));
  v.append(reinterpret_cast<const char*>(e.request_digest.data()), e.request_digest.size());
  return v;
}

bool ParseIdempotencyValue(std::string_view v, IdempotencyEntry* e) {
  if (v.size() != 8 + 4 + 32) return false;
  e->first_position = Position(GetBigEndian64(v));
  e->event_count = (uint32_t(uint8_t(v[8])) << 24) | (uint32_t(uint8_t(v[9])) << 16) |
                   (uint32_t(uint8_t(v[10])) << 8) | uint32_t(uint8_t(v[11]));
  std::memcpy(e->request_digest.data(), v.data() + 12, 32);
  return true;
}

std::string BatchKey(Position first) { return EventKey(first); }

std::string QuarantineKey(Position p, int64_t rejoined_at_us) {
  std::string k = EventKey(p);
  PutBigEndian64(&k, static_cast<uint64_t>(rejoined_at_us));
  return k;
}

}  // namespace ledger::keys
