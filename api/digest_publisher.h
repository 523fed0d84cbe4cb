// The writer's digests (DESIGN §10): every `every_s` seconds or `every_events` events,
// whichever comes first, a DigestPublished naming the chain hash at the canonical mark, so
// auditors can keep (position, hash) outside the system; subscribers of the `digests`
// topic receive each as a signed webhook (webhook_sender.h). An idle log gets no new
// digest: its last one covers it, and what a digest writes about itself (the digest, its
// deliveries) does not count as activity. Runs on the writer only. One thread of its own.
#pragma once

#include <cstdint>
#include <memory>

#include "api/api_context.h"

namespace api {

inline constexpr int kDigestEverySDefault = 60;
inline constexpr uint64_t kDigestEveryEventsDefault = 10000;

struct DigestPublisherOptions {
  int every_s = kDigestEverySDefault;
  uint64_t every_events = kDigestEveryEventsDefault;
};

class DigestPublisher {
 public:
  // `ctx` (store, sequencer) must outlive the publisher.
  DigestPublisher(const ApiContext& ctx, DigestPublisherOptions options);
  ~DigestPublisher();  // stops and joins

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
