// MessagePack encoding of a read model's JSON value, byte for byte what nlohmann's
// to_msgpack writes (the stored bytes, and so the state digests, stay as they were), at a
// fraction of its cost: nlohmann writes one byte at a time through a virtual adapter, and
// encoding was about a tenth of a rebuild. Internal to projections/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace projections {

// Appends the encoding of `value` to *out.
void AppendMsgpack(const nlohmann::json& value, std::string* out);

}  // namespace projections
