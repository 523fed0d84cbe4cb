#include "ledger/seal.h"

#include "ledger/types.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace ledger {

namespace {
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
static_assert(kNonceBytes + kTagBytes == kSealOverheadBytes);
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// Nonces: 96 random bits per seal (the shared secrets key seals in every process of every
// node, so nonces must not depend on a per-process state that two processes could share).
// Drawn from OpenSSL in blocks of 256 per thread: one RAND_bytes call per seal cost about
// 0.7 us. A forked child refills (the fork generation changes), so it never reuses its
// parent's buffered bytes.
std::atomic<uint64_t> g_fork_generation{0};

bool NextNonce(unsigned char* nonce) {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });
    return true;
  }();
  (void)registered;
  constexpr size_t kBlock = 256 * kNonceBytes;
  thread_local unsigned char buffer[kBlock];
  thread_local size_t used = kBlock;
  thread_local uint64_t generation = 0;
  if (generation != g_fork_generation.load()) {
    used = kBlock;
    generation = g_fork_generation.load();
  }
  if (used == kBlock) {
    if (RAND_bytes(buffer, kBlock) != 1) return false;
    used = 0;
  }
  std::memcpy(nonce, buffer + used, kNonceBytes);
  OPENSSL_cleanse(buffer + used, kNonceBytes);
  used += kNonceBytes;
  return true;
}

// One context per thread and the cipher fetched once: a new context per seal cost more
// than the sealing itself.
EVP_CIPHER_CTX* ThreadContext() {
  thread_local Ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  return ctx.get();
}
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}
}  // namespace

Result<std::string> Seal(const SecretKey& key, std::string_view plaintext, std::string_view aad) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  LEDGER_RETURN_IF_ERROR(SealInto(key, plaintext, aad, out.data()));
  return out;
}

Status SealInto(const SecretKey& key, std::string_view plaintext, std::string_view aad, char* out) {
  auto* nonce = reinterpret_cast<unsigned char*>(out);
  if (!NextNonce(nonce)) return Status::Unavailable("the random source failed");
  EVP_CIPHER_CTX* ctx = ThreadContext();
  // The same key as this thread's last seal (a customer's events in one command): only the
  // nonce changes, the key schedule is kept.
  thread_local SecretKey last_key{};
  thread_local bool keyed = false;
  const bool same_key = keyed && CRYPTO_memcmp(last_key.data(), key.data(), key.size()) == 0;
  int len = 0;
  const bool init = ctx != nullptr && Aes256Gcm() != nullptr &&
                    (same_key ? EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) == 1
                              : EVP_EncryptInit_ex(ctx, Aes256Gcm(), nullptr, key.data(), nonce) == 1);
  keyed = init;
  if (init && !same_key) last_key = key;
  if (!init ||
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx, nonce + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, nonce + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes, nonce + kNonceBytes + plaintext.size()) != 1)
    return Status::Unavailable("sealing failed");
  return Status::Ok();
}

Result<std::string> Unseal(const SecretKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kNonceBytes + kTagBytes) return Status::Corruption("sealed bytes too short");
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(n, '\0');
  std::string tag(sealed.substr(kNonceBytes + n));
  Ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in + kNonceBytes,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1)
    return Status::Corruption("sealed bytes do not open with this key and context");
  return out;
}

PersonalAd PersonalAssociatedData(uint32_t shard, uint64_t position, uint64_t key_id) {
  PersonalAd ad;
  static constexpr char kPrefix[] = "ledger personal v1";
  static_assert(sizeof kPrefix - 1 == PersonalAd::kPrefixBytes);
  std::memcpy(ad.bytes, kPrefix, PersonalAd::kPrefixBytes);
  char* p = ad.bytes + PersonalAd::kPrefixBytes;
  for (int i = 3; i >= 0; --i) *p++ = static_cast<char>((shard >> (8 * i)) & 0xff);
  for (int i = 7; i >= 0; --i) *p++ = static_cast<char>((position >> (8 * i)) & 0xff);
  for (int i = 7; i >= 0; --i) *p++ = static_cast<char>((key_id >> (8 * i)) & 0xff);
  return ad;
}

Sha256DigestBytes HmacSha256(const SecretKey& key, std::string_view message) {
  return HmacSha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), message);
}

Sha256DigestBytes HmacSha256(std::string_view key, std::string_view message) {
  Sha256DigestBytes out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out.data(), &len);
  return out;
}

Result<SecretKey> LoadSecretKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("no secrets key file at the given path");
  if ((st.st_mode & 077) != 0) return Status::InvalidArgument("the secrets key file may be read by others: chmod 600 it");
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string raw = ss.str();
  SecretKey key{};
  if (raw.size() == key.size()) {
    std::copy(raw.begin(), raw.end(), key.begin());
    return key;
  }
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.pop_back();
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.front()))) raw.erase(0, 1);
  std::string bytes;
  if (raw.size() != 64 || !FromHex(raw, &bytes))
    return Status::InvalidArgument("the secrets key file must hold 64 hex digits or 32 bytes");
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

}  // namespace ledger
