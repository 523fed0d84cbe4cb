// A read-model value held as a record: a JSON object whose fields are integers, booleans,
// strings, records again or lists of records (no floats, no lists of scalars), kept as a
// short vector of fields sorted by name instead of nlohmann's tree of nodes. The fees and
// customer views' values are all of this shape (a capture with its contributors, totals,
// an order with its lines, payments and captures), and are created or changed several
// times per event: building, decoding, changing and freeing them as nlohmann values (a
// map node, a key string and a value node per field) was most of a rebuild's rule work.
//
// The stored bytes are the JSON object's (AppendMsgpack of ToJson(), byte for byte: fields
// in key order, integers in nlohmann's forms), so the state digests and the golden
// fixtures do not depend on which form a rule used. Internal to projections/.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace projections {

// Adds `delta` to *total; a sum past int64 is kept at the bound (never wrapped) and the
// result is false, for the caller to flag the value "overflowed" (a read model must not
// crash on what the log holds). The rule of AddTo (JSON) and Record::Add.
inline bool AddWithinInt64(int64_t* total, int64_t delta) {
  if (!__builtin_add_overflow(*total, delta, total)) return true;
  *total = delta > 0 ? INT64_MAX : INT64_MIN;
  return false;
}

class Record {
 public:
  enum class Kind : uint8_t { kInteger, kBoolean, kText, kRecord, kList };
  struct Field {
    std::string name;
    Kind kind = Kind::kInteger;
    int64_t integer = 0;             // kInteger; kBoolean as 0 or 1
    std::string text;                // kText
    std::unique_ptr<Record> record;  // kRecord (never null then)
    std::vector<Record> items;       // kList
  };
  // Records nested deeper than this are not read (no read model comes near it).
  static constexpr int kDepthMax = 16;

  // Null (absent) until a field is set or MakeObject() is called.
  bool is_null() const { return !present_; }
  void MakeObject() { present_ = true; }
  void Clear() {
    fields_.clear();
    present_ = false;
  }
  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  void Reserve(size_t fields) { fields_.reserve(fields); }
  bool Has(std::string_view name) const;
  void Erase(std::string_view name);

  // The integer (text, boolean, record, list) at `name`; nullopt (null) when absent or of
  // another kind.
  std::optional<int64_t> Integer(std::string_view name) const;
  std::optional<std::string_view> Text(std::string_view name) const;
  std::optional<bool> Boolean(std::string_view name) const;
  const Record* Find(std::string_view name) const;
  const std::vector<Record>* FindList(std::string_view name) const;

  // Names and texts given as views must not view this record's own fields: adding a
  // field may move them (copy first, as the rules do).
  void SetInteger(std::string_view name, int64_t v) { Set(name, Kind::kInteger)->integer = v; }
  void SetBoolean(std::string_view name, bool v) { Set(name, Kind::kBoolean)->integer = v ? 1 : 0; }
  void SetText(std::string_view name, std::string_view v) { Set(name, Kind::kText)->text.assign(v); }
  // The record at `name` to change in place, created empty (an object) when absent or of
  // another kind. It is held by pointer: valid until that field is erased or set to
  // another kind, whatever else this record gains or loses.
  Record& Child(std::string_view name) { return *Set(name, Kind::kRecord)->record; }
  // Sets the field `name` to a new empty record, whatever it held, and gives it.
  Record& SetRecord(std::string_view name);
  // The list at `name` to append to or change, created empty when absent or of another
  // kind. The reference is valid until a field is added to or removed from this record;
  // the records in the list, until the list itself changes.
  std::vector<Record>& List(std::string_view name) { return Set(name, Kind::kList)->items; }

  // Adds `delta` to the integer at `name` (creating it at 0), as AddTo does for JSON: a sum
  // past int64 stays at the bound and sets "overflowed". A field of another kind is
  // replaced (where AddTo would throw; a well-formed read model never has one).
  void Add(std::string_view name, int64_t delta);

  nlohmann::json ToJson() const;
  // False (and *out left null) when `j` is neither null nor an object of this shape.
  static bool FromJson(const nlohmann::json& j, Record* out);

  // Appends the MessagePack encoding, the bytes AppendMsgpack(ToJson()) writes.
  void AppendMsgpack(std::string* out) const;
  // Decodes stored bytes; false (and *out left null) when they are not one well-formed
  // MessagePack map of this shape (nil, floats, integers past int64, lists of anything
  // but maps, nesting past kDepthMax refused).
  static bool FromMsgpack(std::string_view bytes, Record* out);

 private:
  static bool FromJsonAt(const nlohmann::json& j, Record* out, int depth);
  // The field `name`, created (in key order) or changed to `kind` (its value reset).
  Field* Set(std::string_view name, Kind kind);

  std::vector<Field> fields_;  // sorted by name, names unique
  bool present_ = false;
};

}  // namespace projections
