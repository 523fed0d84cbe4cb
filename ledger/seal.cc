#include "ledger/seal.h"

#include "ledger/types.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace ledger {

namespace {
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
static_assert(kNonceBytes + kTagBytes == kSealOverheadBytes);
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
}  // namespace

Result<std::string> Seal(const SecretKey& key, std::string_view plaintext, std::string_view aad) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(nonce, kNonceBytes) != 1) return Status::Unavailable("the random source failed");
  Ctx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nonce + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), nonce + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, nonce + kNonceBytes + plaintext.size()) != 1)
    return Status::Unavailable("sealing failed");
  return out;
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

std::string PersonalAssociatedData(uint32_t shard, uint64_t position, uint64_t key_id) {
  std::string ad = "ledger personal v1";
  for (int i = 3; i >= 0; --i) ad.push_back(static_cast<char>((shard >> (8 * i)) & 0xff));
  for (int i = 7; i >= 0; --i) ad.push_back(static_cast<char>((position >> (8 * i)) & 0xff));
  for (int i = 7; i >= 0; --i) ad.push_back(static_cast<char>((key_id >> (8 * i)) & 0xff));
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
