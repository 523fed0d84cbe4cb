// Standard base64 (RFC 4648 §4, with padding), as the log route and the providers'
// signature headers use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace api {

std::string Base64Encode(std::string_view bytes);
// Strict: padding required, no whitespace, no other alphabet; nullopt otherwise.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace api
