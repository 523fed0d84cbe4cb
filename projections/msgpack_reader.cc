#include "projections/msgpack_reader.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "projections/record_value.h"

namespace projections {
namespace {

using Json = nlohmann::json;

// Nesting deeper than this is left to nlohmann (no read model value comes near it).
constexpr int kDepthMax = 256;

class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}

  // False on malformed bytes or on a form left to nlohmann (then `fallback()`).
  bool Value(Json* out, int depth) {
    if (depth > kDepthMax) return Fallback();
    uint8_t tag = 0;
    if (!Byte(&tag)) return false;
    if (tag <= 0x7F) {
      *out = static_cast<uint64_t>(tag);
      return true;
    }
    if (tag >= 0xE0) {
      *out = static_cast<int64_t>(static_cast<int8_t>(tag));
      return true;
    }
    uint64_t n = 0;
    if (IsString(tag)) return StringLength(tag, &n) && String(n, out);
    if ((tag & 0xF0) == 0x90) return Array(tag & 0x0F, out, depth);
    if ((tag & 0xF0) == 0x80) return Map(tag & 0x0F, out, depth);
    switch (tag) {
      case 0xC0: *out = nullptr; return true;
      case 0xC2: *out = false; return true;
      case 0xC3: *out = true; return true;
      case 0xCC: return Unsigned(1, out);
      case 0xCD: return Unsigned(2, out);
      case 0xCE: return Unsigned(4, out);
      case 0xCF: return Unsigned(8, out);
      case 0xD0: return Signed(1, out);
      case 0xD1: return Signed(2, out);
      case 0xD2: return Signed(4, out);
      case 0xD3: return Signed(8, out);
      case 0xDC: return BigEndian(2, &n) && Array(n, out, depth);
      case 0xDD: return BigEndian(4, &n) && Array(n, out, depth);
      case 0xDE: return BigEndian(2, &n) && Map(n, out, depth);
      case 0xDF: return BigEndian(4, &n) && Map(n, out, depth);
      default: return Fallback();  // floats, binary, extensions; 0xC1 (never used) too
    }
  }

  // A map of integers, booleans, strings, such maps again and arrays of them into *out
  // (Record); false for anything else.
  bool RecordMap(Record* out, int depth) {
    uint8_t tag = 0;
    uint64_t n = 0;
    if (depth > Record::kDepthMax || !Byte(&tag)) return false;
    if ((tag & 0xF0) == 0x80) n = tag & 0x0F;
    else if (tag == 0xDE || tag == 0xDF) {
      if (!BigEndian(tag == 0xDE ? 2 : 4, &n)) return false;
    } else {
      return false;
    }
    out->MakeObject();
    out->Reserve(static_cast<size_t>(std::min<uint64_t>(n, static_cast<uint64_t>(end_ - p_) / 2)));  // 2+ bytes each
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view name, text;
      uint64_t len = 0;
      if (!Byte(&tag) || !IsString(tag) || !StringLength(tag, &len) || !TextView(len, &name)) return false;
      if (p_ == end_) return false;
      tag = *p_;  // looked at, not taken: a nested map reads its own tag
      if ((tag & 0xF0) == 0x80 || tag == 0xDE || tag == 0xDF) {
        // A repeated name: the last value stands whole (SetRecord, a fresh list), as in nlohmann.
        if (!RecordMap(&out->SetRecord(name), depth + 1)) return false;
        continue;
      }
      if ((tag & 0xF0) == 0x90 || tag == 0xDC || tag == 0xDD) {  // a list of records
        ++p_;
        uint64_t items = 0;
        if ((tag & 0xF0) == 0x90) items = tag & 0x0F;
        else if (!BigEndian(tag == 0xDC ? 2 : 4, &items)) return false;
        std::vector<Record>& list = out->List(name);
        list.clear();
        list.reserve(static_cast<size_t>(std::min<uint64_t>(items, static_cast<uint64_t>(end_ - p_))));
        for (uint64_t k = 0; k < items; ++k)
          if (!RecordMap(&list.emplace_back(), depth + 1)) return false;
        continue;
      }
      ++p_;
      if (tag <= 0x7F) {
        out->SetInteger(name, tag);
      } else if (tag >= 0xE0) {
        out->SetInteger(name, static_cast<int8_t>(tag));
      } else if (IsString(tag)) {
        if (!StringLength(tag, &len) || !TextView(len, &text)) return false;
        out->SetText(name, text);
      } else if (tag == 0xC2 || tag == 0xC3) {
        out->SetBoolean(name, tag == 0xC3);
      } else if (tag >= 0xCC && tag <= 0xCF) {
        uint64_t v = 0;
        if (!BigEndian(1 << (tag - 0xCC), &v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return false;
        out->SetInteger(name, static_cast<int64_t>(v));
      } else if (tag >= 0xD0 && tag <= 0xD3) {
        int64_t v = 0;
        if (!SignedValue(1 << (tag - 0xD0), &v)) return false;
        out->SetInteger(name, v);
      } else {
        return false;  // nil, floats, binary: not a record
      }
    }
    return true;
  }

  bool at_end() const { return p_ == end_; }
  bool fallback() const { return fallback_; }

 private:
  static bool IsString(uint8_t tag) { return (tag & 0xE0) == 0xA0 || (tag >= 0xD9 && tag <= 0xDB); }
  // The length of the string `tag` starts (IsString), from the tag or the bytes after it.
  bool StringLength(uint8_t tag, uint64_t* n) {
    if ((tag & 0xE0) == 0xA0) {
      *n = tag & 0x1F;
      return true;
    }
    return BigEndian(tag == 0xD9 ? 1 : tag == 0xDA ? 2 : 4, n);
  }
  bool Fallback() {
    fallback_ = true;
    return false;
  }
  bool Byte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = *p_++;
    return true;
  }
  bool BigEndian(int bytes, uint64_t* v) {
    if (end_ - p_ < bytes) return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) x = (x << 8) | p_[i];
    p_ += bytes;
    *v = x;
    return true;
  }
  bool Unsigned(int bytes, Json* out) {
    uint64_t v = 0;
    if (!BigEndian(bytes, &v)) return false;
    *out = v;
    return true;
  }
  bool Signed(int bytes, Json* out) {
    int64_t v = 0;
    if (!SignedValue(bytes, &v)) return false;
    *out = v;
    return true;
  }
  // A signed integer of `bytes` bytes, sign-extended from the encoded width.
  bool SignedValue(int bytes, int64_t* out) {
    uint64_t v = 0;
    if (!BigEndian(bytes, &v)) return false;
    const int shift = 64 - 8 * bytes;
    *out = static_cast<int64_t>(v << shift) >> shift;
    return true;
  }
  bool Text(uint64_t n, std::string* s) {
    if (static_cast<uint64_t>(end_ - p_) < n) return false;
    s->assign(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  bool TextView(uint64_t n, std::string_view* s) {
    if (static_cast<uint64_t>(end_ - p_) < n) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  bool String(uint64_t n, Json* out) {
    std::string s;
    if (!Text(n, &s)) return false;
    *out = std::move(s);
    return true;
  }
  bool Array(uint64_t n, Json* out, int depth) {
    *out = Json::array();
    auto& a = out->get_ref<Json::array_t&>();
    a.reserve(static_cast<size_t>(std::min<uint64_t>(n, static_cast<uint64_t>(end_ - p_))));  // each takes a byte
    for (uint64_t i = 0; i < n; ++i) {
      Json v;
      if (!Value(&v, depth + 1)) return false;
      a.push_back(std::move(v));
    }
    return true;
  }
  bool Map(uint64_t n, Json* out, int depth) {
    *out = Json::object();
    auto& m = out->get_ref<Json::object_t&>();
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t tag = 0;
      if (!Byte(&tag)) return false;
      if (!IsString(tag)) return Fallback();  // a key that is not a string: nlohmann decides
      uint64_t len = 0;
      std::string key;
      if (!StringLength(tag, &len) || !Text(len, &key)) return false;
      Json v;
      if (!Value(&v, depth + 1)) return false;
      m[std::move(key)] = std::move(v);  // a repeated key: the last one stands, as in nlohmann
    }
    return true;
  }

  const uint8_t* p_;
  const uint8_t* const end_;
  bool fallback_ = false;
};

}  // namespace

Json ReadMsgpack(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  Reader reader(p, p + bytes.size());
  Json out;
  if (reader.Value(&out, 0) && reader.at_end()) return out;
  if (reader.fallback())
    return Json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  return Json(Json::value_t::discarded);
}

bool ReadRecordMsgpack(std::string_view bytes, Record* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  Reader reader(p, p + bytes.size());
  out->Clear();
  if (reader.RecordMap(out, 0) && reader.at_end()) return true;
  out->Clear();
  return false;
}

}  // namespace projections
