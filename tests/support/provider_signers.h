// Key pairs of the tests' own, signing as PayPal (RSA-SHA256 with a self-signed X.509
// certificate) and eBay (ECDSA P-256, the X-EBAY-SIGNATURE header) do, so the webhook
// routes can be tested without the providers.
#pragma once

#include <openssl/evp.h>

#include <string>

namespace testing_support {

std::string Base64(const std::string& bytes);
// SubjectPublicKeyInfo PEM of `key`.
std::string PublicKeyPem(EVP_PKEY* key);
// A self-signed X.509 certificate (PEM) holding `key`'s public half, valid for an hour.
std::string SelfSignedCertPem(EVP_PKEY* key);
// `message` signed with `key` under `md` (DER for ECDSA).
std::string SignBytes(EVP_PKEY* key, const EVP_MD* md, const std::string& message);

struct RsaSigner {
  RsaSigner();
  ~RsaSigner();
  RsaSigner(const RsaSigner&) = delete;
  RsaSigner& operator=(const RsaSigner&) = delete;
  std::string Sign(const std::string& message, const EVP_MD* md = EVP_sha256()) const { return SignBytes(key, md, message); }
  EVP_PKEY* key;
  std::string cert_pem;  // self-signed, holding `key`'s public half
};

struct EcSigner {
  EcSigner();
  ~EcSigner();
  EcSigner(const EcSigner&) = delete;
  EcSigner& operator=(const EcSigner&) = delete;
  std::string public_pem() const { return PublicKeyPem(key); }
  // The X-EBAY-SIGNATURE header for `body`: base64 of {alg, kid, signature, digest}.
  std::string Header(const std::string& body, const std::string& digest = "SHA1") const;
  EVP_PKEY* key;
};

}  // namespace testing_support
