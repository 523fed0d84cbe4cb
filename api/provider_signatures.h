// Verifying what payment providers sign (DESIGN §9, webhooks in). Pure functions over
// bytes: the keys are the ones each merchant configured with PUT /v1/merchant, never one
// fetched from a URL the request names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace api {

// CRC-32 (IEEE 802.3, as zlib's crc32) of `bytes`.
uint32_t Crc32(std::string_view bytes);

// PayPal's signed string: "<transmission id>|<transmission time>|<webhook id>|<crc32 of the
// raw body as an unsigned decimal>".
std::string PayPalSignedString(std::string_view transmission_id, std::string_view transmission_time,
                               std::string_view webhook_id, std::string_view body);

// Checks PAYPAL-TRANSMISSION-SIG (base64 RSA-SHA256 over `signed_string`) against the
// public key of `cert_pem` (an X.509 certificate in PEM). An error on any mismatch (401);
// the reason never quotes the signature or the certificate.
ledger::Status VerifyPayPalSignature(std::string_view cert_pem, std::string_view signed_string,
                                     std::string_view signature_base64);

// Whether a merchant's configured keys are what the checks below read: a PEM X.509
// certificate holding an RSA key (PayPal), a PEM EC public key (eBay). Checked when
// configured, so that a key that could never verify is refused then, not at every webhook.
ledger::Status CheckPayPalCertificate(std::string_view cert_pem);
ledger::Status CheckEbayPublicKey(std::string_view public_key_pem);

// Checks an X-EBAY-SIGNATURE header: base64 of a JSON object {alg: "ECDSA", kid,
// signature: base64 DER, digest: "SHA1" or "SHA256"}, an ECDSA signature over the raw
// body, against `public_key_pem` (SubjectPublicKeyInfo PEM).
ledger::Status VerifyEbaySignature(std::string_view public_key_pem, std::string_view header, std::string_view body);

}  // namespace api
