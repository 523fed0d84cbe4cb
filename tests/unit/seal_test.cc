#include "ledger/seal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

using namespace ledger;

TEST(Seal, RoundTripsAndRefusesAnotherKeyOrContext) {
  SecretKey key{}, other{};
  key[0] = 1;
  other[0] = 2;
  auto sealed = Seal(key, "webhook secret 123", "subscriber/s1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("webhook secret"), std::string::npos);
  EXPECT_EQ(*Unseal(key, *sealed, "subscriber/s1"), "webhook secret 123");
  EXPECT_EQ(Unseal(other, *sealed, "subscriber/s1").status().code(), Code::kCorruption);
  EXPECT_EQ(Unseal(key, *sealed, "subscriber/s2").status().code(), Code::kCorruption);
  std::string flipped = *sealed;
  flipped[14] ^= 1;
  EXPECT_EQ(Unseal(key, flipped, "subscriber/s1").status().code(), Code::kCorruption);
  EXPECT_EQ(Unseal(key, "short", "x").status().code(), Code::kCorruption);
  EXPECT_NE(*Seal(key, "same", "a"), *Seal(key, "same", "a")) << "a nonce must never repeat";
}

TEST(Seal, KeyFilesMustBePrivateAndWellFormed) {
  testing_support::TempDir dir;
  auto write = [&](const std::string& name, const std::string& content, mode_t mode) {
    const std::string p = dir.Sub(name);
    std::ofstream(p, std::ios::binary) << content;
    chmod(p.c_str(), mode);
    return p;
  };
  const std::string hex(64, 'a');
  auto ok = LoadSecretKeyFile(write("hex", hex + "\n", 0600));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0], 0xaa);
  EXPECT_TRUE(LoadSecretKeyFile(write("raw", std::string(32, '\x07'), 0600)).ok());
  auto open = LoadSecretKeyFile(write("open", hex, 0644));
  EXPECT_EQ(open.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(open.status().message().find(hex), std::string::npos) << "the key leaked into an error";
  EXPECT_EQ(LoadSecretKeyFile(write("short", "abcd", 0600)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LoadSecretKeyFile(write("nothex", std::string(64, 'z'), 0600)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LoadSecretKeyFile(dir.Sub("missing")).status().code(), Code::kNotFound);
}
