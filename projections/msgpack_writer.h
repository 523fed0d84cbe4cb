// MessagePack encoding of a read model's JSON value, byte for byte what nlohmann's
// to_msgpack writes (the stored bytes, and so the state digests, stay as they were), at a
// fraction of its cost: nlohmann writes one byte at a time through a virtual adapter, and
// encoding was about a tenth of a rebuild. Internal to projections/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace projections {

// Appends the encoding of `value` to *out.
void AppendMsgpack(const nlohmann::json& value, std::string* out);

// The same forms one by one, for values built without nlohmann (Record): a map's
// header for `fields` fields, an array's for `items` items, a string, an integer.
void AppendMsgpackMapHeader(size_t fields, std::string* out);
void AppendMsgpackArrayHeader(size_t items, std::string* out);
void AppendMsgpackString(std::string_view s, std::string* out);
void AppendMsgpackInteger(int64_t v, std::string* out);

}  // namespace projections
