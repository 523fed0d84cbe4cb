#include "tests/support/provider_signers.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>

namespace testing_support {

namespace {
std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}
}  // namespace

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string PublicKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  return BioText(bio);
}

std::string SignBytes(EVP_PKEY* key, const EVP_MD* md, const std::string& message) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  size_t n = 0;
  EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  std::string sig(n, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                 reinterpret_cast<const unsigned char*>(message.data()), message.size());
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  return sig;
}

std::string SelfSignedCertPem(EVP_PKEY* key) {
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("messageverificationcerts"), -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  std::string pem = BioText(bio);
  X509_free(x);
  return pem;
}

RsaSigner::RsaSigner() : key(EVP_RSA_gen(2048)), cert_pem(SelfSignedCertPem(key)) {}

RsaSigner::~RsaSigner() { EVP_PKEY_free(key); }

EcSigner::EcSigner() : key(EVP_EC_gen("prime256v1")) {}
EcSigner::~EcSigner() { EVP_PKEY_free(key); }

std::string EcSigner::Header(const std::string& body, const std::string& digest) const {
  const std::string sig = SignBytes(key, digest == "SHA1" ? EVP_sha1() : EVP_sha256(), body);
  return Base64(nlohmann::json{{"alg", "ecdsa"}, {"kid", "k-1"}, {"signature", Base64(sig)}, {"digest", digest}}.dump());
}

}  // namespace testing_support
