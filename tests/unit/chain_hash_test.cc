#include "ledger/chain_hash.h"

#include <gtest/gtest.h>

using namespace ledger;

TEST(ChainHash, Sha256OfKnownVector) {
  EXPECT_EQ(ToHex(Sha256Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ChainHash, CoversPreviousPositionAndRecord) {
  Sha256Digest h1 = ChainHash(kGenesisHash, Position(1), "record");
  EXPECT_NE(h1, ChainHash(kGenesisHash, Position(2), "record"));
  EXPECT_NE(h1, ChainHash(kGenesisHash, Position(1), "recorD"));
  Sha256Digest other{};
  other[0] = 1;
  EXPECT_NE(h1, ChainHash(other, Position(1), "record"));
  EXPECT_EQ(h1, ChainHash(kGenesisHash, Position(1), "record"));
}

TEST(ChainHash, DefinitionIsPreviousThenBigEndianPositionThenRecord) {
  std::string input(32, '\0');
  input += std::string("\0\0\0\0\0\0\x01\x02", 8);
  input += "xyz";
  EXPECT_EQ(ChainHash(kGenesisHash, Position(0x102), "xyz"), Sha256Of(input));
}
