// Decoding of a read model's stored MessagePack value: the same JSON value, with the same
// types (unsigned and signed integers as nlohmann's from_msgpack makes them), as
// nlohmann's strict from_msgpack, without its byte-at-a-time input adapter and SAX
// detour (decoding was about a twentieth of a rebuild). Forms the read models never write
// (floats, binary, extensions) are left to nlohmann. Internal to projections/.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace projections {

// The value `bytes` hold; a discarded value when they are not exactly one well-formed
// MessagePack value (as from_msgpack with strict = true, allow_exceptions = false).
nlohmann::json ReadMsgpack(std::string_view bytes);

class Record;
// Decodes a record (record_value.h) into *out; false when `bytes` are not exactly one
// well-formed map whose values are all integers within int64, booleans, strings, such
// maps again or arrays of such maps.
bool ReadRecordMsgpack(std::string_view bytes, Record* out);

}  // namespace projections
