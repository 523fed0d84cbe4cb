#include "api/provider_signatures.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/base64.h"

namespace api {

using ledger::Status;

namespace {

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

std::unique_ptr<BIO, BioFree> ReadOnlyBio(std::string_view pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Status Verify(EVP_PKEY* key, const EVP_MD* md, std::string_view message, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1)
    return Status::InvalidArgument("the configured key cannot verify this algorithm");
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size());
  return ok == 1 ? Status::Ok() : Status::InvalidArgument("the signature does not verify");
}

}  // namespace

uint32_t Crc32(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string PayPalSignedString(std::string_view transmission_id, std::string_view transmission_time,
                               std::string_view webhook_id, std::string_view body) {
  std::string out;
  out.append(transmission_id).append("|").append(transmission_time).append("|").append(webhook_id).append("|");
  out.append(std::to_string(Crc32(body)));
  return out;
}

namespace {
// The RSA key of a PayPal certificate, or why there is none.
ledger::Result<Key> PayPalKey(std::string_view cert_pem) {
  auto bio = ReadOnlyBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::InvalidArgument("the configured PayPal certificate is not a PEM X.509 certificate");
  Key key(X509_get_pubkey(cert.get()));
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA)
    return Status::InvalidArgument("the configured PayPal certificate holds no RSA key");
  return key;
}

// The EC key of an eBay public key, or why there is none. eBay's getPublicKey gives the
// PEM on one line ("-----BEGIN PUBLIC KEY-----MFkw...-----END PUBLIC KEY-----"), which
// OpenSSL does not read: it is cut into PEM's lines first.
ledger::Result<Key> EbayKey(std::string_view public_key_pem) {
  std::string pem(public_key_pem);
  static constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----", kEnd = "-----END PUBLIC KEY-----";
  if (pem.find('\n') == std::string::npos && pem.rfind(kBegin, 0) == 0 && pem.size() > kBegin.size() + kEnd.size() &&
      pem.compare(pem.size() - kEnd.size(), kEnd.size(), kEnd) == 0) {
    const std::string body = pem.substr(kBegin.size(), pem.size() - kBegin.size() - kEnd.size());
    pem = std::string(kBegin) + "\n";
    for (size_t at = 0; at < body.size(); at += 64) pem.append(body, at, 64).append("\n");  // PEM's lines
    pem.append(kEnd).append("\n");
  }
  auto bio = ReadOnlyBio(pem);
  Key key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_EC)
    return Status::InvalidArgument("the configured eBay public key is not a PEM EC public key");
  return key;
}
}  // namespace

Status CheckPayPalCertificate(std::string_view cert_pem) { return PayPalKey(cert_pem).status(); }
Status CheckEbayPublicKey(std::string_view public_key_pem) { return EbayKey(public_key_pem).status(); }

Status VerifyPayPalSignature(std::string_view cert_pem, std::string_view signed_string, std::string_view signature_base64) {
  auto key = PayPalKey(cert_pem);
  if (!key.ok()) return key.status();
  auto signature = Base64Decode(signature_base64);
  if (!signature) return Status::InvalidArgument("PAYPAL-TRANSMISSION-SIG is not base64");
  return Verify(key->get(), EVP_sha256(), signed_string, *signature);
}

Status VerifyEbaySignature(std::string_view public_key_pem, std::string_view header, std::string_view body) {
  auto decoded = Base64Decode(header);
  if (!decoded) return Status::InvalidArgument("X-EBAY-SIGNATURE is not base64");
  const nlohmann::json h = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  if (!h.is_object() || !h.contains("signature") || !h["signature"].is_string() || !h.contains("alg") ||
      !h["alg"].is_string())
    return Status::InvalidArgument("X-EBAY-SIGNATURE does not name an algorithm and a signature");
  std::string alg = h["alg"].get<std::string>();
  for (char& ch : alg) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (alg != "ECDSA") return Status::InvalidArgument("X-EBAY-SIGNATURE: only ECDSA is accepted");
  const std::string digest = h.contains("digest") && h["digest"].is_string() ? h["digest"].get<std::string>() : "SHA1";
  const EVP_MD* md = digest == "SHA1" ? EVP_sha1() : digest == "SHA256" ? EVP_sha256() : nullptr;
  if (md == nullptr) return Status::InvalidArgument("X-EBAY-SIGNATURE: digest must be SHA1 or SHA256");
  auto signature = Base64Decode(h["signature"].get<std::string>());
  if (!signature) return Status::InvalidArgument("X-EBAY-SIGNATURE: the signature is not base64");
  auto key = EbayKey(public_key_pem);
  if (!key.ok()) return key.status();
  return Verify(key->get(), md, body, *signature);
}

}  // namespace api
