// "A topic that went back" (DESIGN §6): before a node's reader and publisher start on an
// external cluster, compare what the store remembers of Kafka with what Kafka says. The
// topic was recreated when the cluster id changed, or when the partition's end offset is
// below the offset stored for the canonical head. Then the node stops with a clear error,
// unless the operator accepts the new topic: the log goes on in a new incarnation from the
// store's own head, and nothing republishes history into the topic by itself.
#pragma once

#include "ledger/event_store.h"
#include "ledger/kafka/client_options.h"

namespace ledger::kafka {

inline constexpr int kTopicCheckTimeoutMs = 10000;

struct TopicCheck {
  bool went_back = false;
  std::string cluster_id;
  int64_t end_offset = 0;
};

// Asks Kafka and decides; with `accept_new_topic` a topic that went back starts a new
// incarnation (owned by `owner` in the store's writer epoch). Records the cluster id.
// Errors: Unavailable when Kafka does not answer within kTopicCheckTimeoutMs;
// InvalidArgument (naming --accept-new-topic) when the topic went back and it is not
// accepted. Nothing is changed on error.
Result<TopicCheck> CheckTopic(const ClientOptions& options, EventStore* store, bool accept_new_topic,
                              const std::string& owner);

}  // namespace ledger::kafka
