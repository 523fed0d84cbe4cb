#include "ledger/ids.h"

#include <gtest/gtest.h>

using namespace ledger;

TEST(Ids, MerchantIds) {
  EXPECT_TRUE(IsValidMerchantId("m1"));
  EXPECT_TRUE(IsValidMerchantId("acme_shop_2"));
  EXPECT_TRUE(IsValidMerchantId(std::string(32, 'a')));
  EXPECT_FALSE(IsValidMerchantId(std::string(33, 'a')));
  EXPECT_FALSE(IsValidMerchantId(""));
  EXPECT_FALSE(IsValidMerchantId("Acme"));
  EXPECT_FALSE(IsValidMerchantId("a-b"));
  EXPECT_FALSE(IsValidMerchantId("a/b"));
}

TEST(Ids, EntityIdsFitProviderIds) {
  EXPECT_TRUE(IsValidEntityId("1001"));
  EXPECT_TRUE(IsValidEntityId("8MC585209K746392H"));     // PayPal capture id
  EXPECT_TRUE(IsValidEntityId("12-34567-89012"));       // eBay order id
  EXPECT_TRUE(IsValidEntityId("a.b:c_d-e"));
  EXPECT_TRUE(IsValidEntityId(std::string(64, 'x')));
  EXPECT_FALSE(IsValidEntityId(std::string(65, 'x')));
  EXPECT_FALSE(IsValidEntityId(""));
  EXPECT_FALSE(IsValidEntityId("a/b"));
  EXPECT_FALSE(IsValidEntityId("a b"));
  EXPECT_FALSE(IsValidEntityId("caf\xc3\xa9"));
}

TEST(Ids, StreamNames) {
  EXPECT_TRUE(ValidateStreamName("order/m1/1001").ok());
  EXPECT_TRUE(ValidateStreamName("payment/m1/PAY-1").ok());
  EXPECT_TRUE(ValidateStreamName("key/k1").ok());
  EXPECT_TRUE(ValidateStreamName("outage/inc-7").ok());
  EXPECT_TRUE(ValidateStreamName("fee-recipe").ok());
  for (const char* bad : {"", "order", "order/m1", "order//1001", "order/M1/1001", "order/m1/",
                          "bogus/m1/1001", "order/m1/10/01", "key/", "key/a/b", "fee-recipe/1",
                          "/m1/1001"}) {
    Status s = ValidateStreamName(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << "'" << bad << "' accepted";
  }
}

TEST(Ids, IdempotencyKeys) {
  EXPECT_TRUE(ValidateIdempotencyKey("7f3c-1").ok());
  EXPECT_FALSE(ValidateIdempotencyKey("").ok());
  EXPECT_FALSE(ValidateIdempotencyKey(std::string(256, 'k')).ok());
  EXPECT_FALSE(ValidateIdempotencyKey("has space").ok());
  EXPECT_FALSE(ValidateIdempotencyKey(std::string("nul\0", 4)).ok());
}

// Subscriber ids (DECISIONS 97, 108): a merchant's "<merchant>:<id>", an auditor's
// "Auditors:<id>" (owner ""), an admin's "<id>"; the chosen id comes back from each, and the
// auditors' scope can be no merchant's.
TEST(Ids, SubscriberIdsAreScopedByTheirOwner) {
  EXPECT_EQ(ScopedSubscriberId("m1", "hooks"), "m1:hooks");
  EXPECT_EQ(ScopedSubscriberId(kAuditorSubscriberScope, "digests"), "Auditors:digests");
  EXPECT_EQ(ScopedSubscriberId("", "ops"), "ops");
  EXPECT_EQ(ChosenSubscriberId("m1", "m1:hooks"), "hooks");
  EXPECT_EQ(ChosenSubscriberId("", "Auditors:digests"), "digests");
  EXPECT_EQ(ChosenSubscriberId("", "ops"), "ops");
  EXPECT_EQ(ChosenSubscriberId("m1", "hooks"), "hooks") << "added before ids were scoped";
  EXPECT_EQ(ChosenSubscriberId("m1", "Auditors:x"), "Auditors:x") << "a merchant's is never taken for an auditor's";
  EXPECT_FALSE(IsValidMerchantId(kAuditorSubscriberScope));
  EXPECT_EQ(SubscriberIdLengthMax(kAuditorSubscriberScope), kEntityIdLengthMax - kAuditorSubscriberScope.size() - 1);
}
