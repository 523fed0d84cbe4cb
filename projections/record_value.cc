#include "projections/record_value.h"

#include <algorithm>
#include <climits>

#include "projections/msgpack_reader.h"
#include "projections/msgpack_writer.h"

namespace projections {

using Json = nlohmann::json;

namespace {
const Record::Field* FindField(const std::vector<Record::Field>& fields, std::string_view name) {
  for (const Record::Field& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}
}  // namespace

std::optional<int64_t> Record::Integer(std::string_view name) const {
  const Field* f = FindField(fields_, name);
  return f && f->kind == Kind::kInteger ? std::optional<int64_t>(f->integer) : std::nullopt;
}

std::optional<std::string_view> Record::Text(std::string_view name) const {
  const Field* f = FindField(fields_, name);
  return f && f->kind == Kind::kText ? std::optional<std::string_view>(f->text) : std::nullopt;
}

std::optional<bool> Record::Boolean(std::string_view name) const {
  const Field* f = FindField(fields_, name);
  return f && f->kind == Kind::kBoolean ? std::optional<bool>(f->integer != 0) : std::nullopt;
}

const std::vector<Record>* Record::FindList(std::string_view name) const {
  const Field* f = FindField(fields_, name);
  return f && f->kind == Kind::kList ? &f->items : nullptr;
}

bool Record::Has(std::string_view name) const { return FindField(fields_, name) != nullptr; }

void Record::Erase(std::string_view name) {
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    if (it->name == name) {
      fields_.erase(it);
      return;
    }
  }
}

Record& Record::SetRecord(std::string_view name) {
  Field* f = Set(name, Kind::kRecord);
  f->record->Clear();
  f->record->MakeObject();
  return *f->record;
}

const Record* Record::Find(std::string_view name) const {
  const Field* f = FindField(fields_, name);
  return f && f->kind == Kind::kRecord ? f->record.get() : nullptr;
}

Record::Field* Record::Set(std::string_view name, Kind kind) {
  present_ = true;
  // Fields come in key order from the store and from most rules: an append, checked first.
  Field* f = nullptr;
  bool added = true;
  if (fields_.empty() || std::string_view(fields_.back().name) < name) {
    if (fields_.capacity() == fields_.size()) fields_.reserve(std::max<size_t>(8, 2 * fields_.size()));
    f = &fields_.emplace_back();
  } else {
    auto at = std::lower_bound(fields_.begin(), fields_.end(), name,
                               [](const Field& x, std::string_view n) { return std::string_view(x.name) < n; });
    if (at->name == name) {  // an existing field (lower_bound found one: the last is >= name)
      if (at->kind == kind) return &*at;
      at->integer = 0;
      at->text.clear();
      at->record.reset();
      at->items.clear();
      f = &*at;
      added = false;
    } else {
      f = &*fields_.insert(at, Field{});
    }
  }
  if (added) f->name.assign(name);
  f->kind = kind;
  if (kind == Kind::kRecord) {
    f->record = std::make_unique<Record>();
    f->record->MakeObject();
  }
  return f;
}

void Record::Add(std::string_view name, int64_t delta) {
  if (!AddWithinInt64(&Set(name, Kind::kInteger)->integer, delta)) SetBoolean("overflowed", true);
}

Json Record::ToJson() const {
  if (!present_) return Json();
  Json::object_t fields;
  for (const Field& f : fields_) {
    switch (f.kind) {
      case Kind::kInteger: fields.emplace(f.name, f.integer); break;
      case Kind::kBoolean: fields.emplace(f.name, f.integer != 0); break;
      case Kind::kText: fields.emplace(f.name, f.text); break;
      case Kind::kRecord: fields.emplace(f.name, f.record->ToJson()); break;
      case Kind::kList: {
        Json::array_t items;
        items.reserve(f.items.size());
        for (const Record& r : f.items) items.push_back(r.ToJson());
        fields.emplace(f.name, std::move(items));
        break;
      }
    }
  }
  return Json(std::move(fields));
}

bool Record::FromJson(const Json& j, Record* out) {
  out->Clear();
  if (j.is_null()) return true;
  if (FromJsonAt(j, out, 0)) return true;
  out->Clear();
  return false;
}

bool Record::FromJsonAt(const Json& j, Record* out, int depth) {
  if (!j.is_object() || depth > kDepthMax) return false;
  out->MakeObject();
  for (const auto& [name, v] : j.items()) {
    if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX})) {
      out->SetInteger(name, v.get<int64_t>());
    } else if (v.is_boolean()) {
      out->SetBoolean(name, v.get<bool>());
    } else if (v.is_string()) {
      out->SetText(name, v.get_ref<const std::string&>());
    } else if (v.is_array()) {
      std::vector<Record>& items = out->List(name);
      for (const Json& item : v)
        if (!FromJsonAt(item, &items.emplace_back(), depth + 1)) return false;  // objects only
    } else if (!FromJsonAt(v, &out->Child(name), depth + 1)) {
      return false;
    }
  }
  return true;
}

void Record::AppendMsgpack(std::string* out) const {
  if (!present_) {
    out->push_back(static_cast<char>(0xC0));
    return;
  }
  AppendMsgpackMapHeader(fields_.size(), out);
  for (const Field& f : fields_) {
    AppendMsgpackString(f.name, out);
    switch (f.kind) {
      case Kind::kInteger: AppendMsgpackInteger(f.integer, out); break;
      case Kind::kBoolean: out->push_back(static_cast<char>(f.integer != 0 ? 0xC3 : 0xC2)); break;
      case Kind::kText: AppendMsgpackString(f.text, out); break;
      case Kind::kRecord: f.record->AppendMsgpack(out); break;
      case Kind::kList:
        AppendMsgpackArrayHeader(f.items.size(), out);
        for (const Record& r : f.items) r.AppendMsgpack(out);
        break;
    }
  }
}

bool Record::FromMsgpack(std::string_view bytes, Record* out) { return ReadRecordMsgpack(bytes, out); }

}  // namespace projections
