// Secret files (the first admin key): mode 0600 from the first byte, whole or absent, and
// an exclusive write never replaces what is there.
#include "ledger/file_sync.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

using ledger::WriteSecretFile;

namespace {
std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST(SecretFile, IsWrittenWholeWithMode0600AndNoStagingLeftBehind) {
  testing_support::TempDir dir;
  const std::filesystem::path p = std::filesystem::path(dir.path()) / "admin.key";
  ASSERT_TRUE(WriteSecretFile(p, "secret-1\n", /*exclusive=*/true).ok());
  EXPECT_EQ(Slurp(p), "secret-1\n");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(p.string() + ".writing"));
}

TEST(SecretFile, AnExclusiveWriteNeverReplacesAnExistingFile) {
  testing_support::TempDir dir;
  const std::filesystem::path p = std::filesystem::path(dir.path()) / "admin.key.pending";
  ASSERT_TRUE(WriteSecretFile(p, "first\n", /*exclusive=*/true).ok());
  ledger::Status again = WriteSecretFile(p, "second\n", /*exclusive=*/true);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("exists"), std::string::npos);
  EXPECT_EQ(again.message().find("second"), std::string::npos) << "the content reached the error";
  EXPECT_EQ(Slurp(p), "first\n");
  EXPECT_FALSE(std::filesystem::exists(p.string() + ".writing"));
  // Not exclusive: replaced whole.
  ASSERT_TRUE(WriteSecretFile(p, "third\n", /*exclusive=*/false).ok());
  EXPECT_EQ(Slurp(p), "third\n");
}

// A link planted at the staging name (by someone who can write the data directory) is
// removed, never written through.
TEST(SecretFile, ALinkAtTheStagingNameIsNotFollowed) {
  testing_support::TempDir dir;
  const std::filesystem::path p = std::filesystem::path(dir.path()) / "admin.key";
  const std::filesystem::path target = std::filesystem::path(dir.path()) / "elsewhere";
  { std::ofstream(target) << "untouched"; }
  std::filesystem::create_symlink(target, p.string() + ".writing");
  ASSERT_TRUE(WriteSecretFile(p, "secret\n", /*exclusive=*/true).ok());
  EXPECT_EQ(Slurp(target), "untouched");
  EXPECT_EQ(Slurp(p), "secret\n");
}
