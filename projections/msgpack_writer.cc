#include "projections/msgpack_writer.h"

#include <cstdint>
#include <limits>

#include "ledger/status.h"

namespace projections {
namespace {

using Json = nlohmann::json;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  char buf[8];
  for (int i = 0; i < bytes; ++i) buf[i] = static_cast<char>((v >> (8 * (bytes - 1 - i))) & 0xff);
  out->append(buf, static_cast<size_t>(bytes));
}

void PutTagged(std::string* out, uint8_t tag, uint64_t v, int bytes) {
  out->push_back(static_cast<char>(tag));
  PutBigEndian(out, v, bytes);
}

// nlohmann writes any non-negative integer, signed or not, in the unsigned forms.
void PutUnsigned(std::string* out, uint64_t v) {
  if (v < 128) out->push_back(static_cast<char>(v));
  else if (v <= 0xff) PutTagged(out, 0xCC, v, 1);
  else if (v <= 0xffff) PutTagged(out, 0xCD, v, 2);
  else if (v <= 0xffffffffull) PutTagged(out, 0xCE, v, 4);
  else PutTagged(out, 0xCF, v, 8);
}

void PutNegative(std::string* out, int64_t v) {
  const uint64_t bits = static_cast<uint64_t>(v);
  if (v >= -32) out->push_back(static_cast<char>(static_cast<int8_t>(v)));
  else if (v >= std::numeric_limits<int8_t>::min()) PutTagged(out, 0xD0, bits, 1);
  else if (v >= std::numeric_limits<int16_t>::min()) PutTagged(out, 0xD1, bits, 2);
  else if (v >= std::numeric_limits<int32_t>::min()) PutTagged(out, 0xD2, bits, 4);
  else PutTagged(out, 0xD3, bits, 8);
}

void PutString(std::string* out, std::string_view s) {
  const size_t n = s.size();
  LEDGER_INVARIANT(n <= 0xffffffffull);  // MessagePack has no longer form (a value is far smaller)
  if (n <= 31) out->push_back(static_cast<char>(0xA0 | n));
  else if (n <= 0xff) PutTagged(out, 0xD9, n, 1);
  else if (n <= 0xffff) PutTagged(out, 0xDA, n, 2);
  else PutTagged(out, 0xDB, n, 4);
  out->append(s);
}

// Arrays and maps share their length forms: fix (up to 15), 16-bit, 32-bit.
void PutLength(std::string* out, size_t n, uint8_t fix, uint8_t tag16, uint8_t tag32) {
  LEDGER_INVARIANT(n <= 0xffffffffull);
  if (n <= 15) out->push_back(static_cast<char>(fix | n));
  else if (n <= 0xffff) PutTagged(out, tag16, n, 2);
  else PutTagged(out, tag32, n, 4);
}

}  // namespace

void AppendMsgpack(const Json& value, std::string* out) {
  switch (value.type()) {
    case Json::value_t::null:
      out->push_back(static_cast<char>(0xC0));
      return;
    case Json::value_t::boolean:
      out->push_back(static_cast<char>(value.get<bool>() ? 0xC3 : 0xC2));
      return;
    case Json::value_t::number_integer:
      AppendMsgpackInteger(value.get<int64_t>(), out);
      return;
    case Json::value_t::number_unsigned:
      PutUnsigned(out, value.get<uint64_t>());
      return;
    case Json::value_t::string:
      PutString(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::array:
      AppendMsgpackArrayHeader(value.size(), out);
      for (const Json& element : value.get_ref<const Json::array_t&>()) AppendMsgpack(element, out);
      return;
    case Json::value_t::object:
      AppendMsgpackMapHeader(value.size(), out);
      for (const auto& [key, element] : value.get_ref<const Json::object_t&>()) {
        PutString(out, key);
        AppendMsgpack(element, out);
      }
      return;
    default:
      // Floats and binary values, which the read models do not hold: nlohmann's own form.
      Json::to_msgpack(value, nlohmann::detail::output_adapter<char>(*out));
      return;
  }
}

void AppendMsgpackMapHeader(size_t fields, std::string* out) { PutLength(out, fields, 0x80, 0xDE, 0xDF); }

void AppendMsgpackArrayHeader(size_t items, std::string* out) { PutLength(out, items, 0x90, 0xDC, 0xDD); }

void AppendMsgpackString(std::string_view s, std::string* out) { PutString(out, s); }

void AppendMsgpackInteger(int64_t v, std::string* out) {
  if (v >= 0) PutUnsigned(out, static_cast<uint64_t>(v));
  else PutNegative(out, v);
}

}  // namespace projections
