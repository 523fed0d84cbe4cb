// The status page (DESIGN §7): components and their current status, incidents (outage
// notices) with their update history. Subscribers are kept for delivery only; the public
// status query never shows them (queries.cc).
//
// Keys: component/<name> (status and open incidents), incident/<notice>,
//       subscriber/<subscriber> (owner, url, topics, the sealed secret, and how far its
//       notifications are settled: delivered or given up on). <subscriber> is the id in
//       the log: "<merchant>:<id>" for a merchant's subscriber (DECISIONS 97).
#include <algorithm>

#include "projections/event_reading.h"
#include "projections/projection.h"

namespace projections {
namespace {

using ledger::Status;
using ledger::schema::Event;
using ledger::schema::EventBody;
namespace fbs = ledger::schema;

// A component's status: "operational" with no open incident, else the impact of the most
// recently opened one still open.
void Restate(Json& component) {
  const Json& open = component["open_incidents"];
  if (open.empty()) {
    component["status"] = "operational";
    return;
  }
  int64_t latest = -1;
  for (const auto& [id, inc] : open.items())
    if (inc["opened_at_us"].get<int64_t>() > latest) {
      latest = inc["opened_at_us"].get<int64_t>();
      component["status"] = inc["impact"];
    }
}

class StatusView final : public Projection {
 public:
  StatusView() : Projection("status") {}

  Status Apply(const Event& e, StateTxn& s) const override {
    const int64_t at = e.recorded_at_us();
    switch (e.body_type()) {
      case EventBody::OutageNoticePublished: {
        const auto* b = e.body_as_OutageNoticePublished();
        const std::string id = Str(b->notice_id()), component = Str(b->component());
        const char* status = fbs::EnumNameOutageStatus(b->status());
        Json& inc = s.Mutable("incident/" + id);
        inc = {{"notice_id", id},
               {"component", component},
               {"impact", Str(b->impact())},
               {"status", status},
               {"message", Str(b->message())},
               {"detected_at_us", b->detected_at_us()},
               {"started_at_us", b->started_at_us()},
               {"published_at_us", at},
               {"updates", Json::array({{{"status", status}, {"message", Str(b->message())},
                                         {"impact", Str(b->impact())}, {"recorded_at_us", at}}})}};
        Json& c = s.Mutable("component/" + component);
        if (c.is_null()) c = {{"component", component}, {"open_incidents", Json::object()}};
        if (b->status() == fbs::OutageStatus::Resolved) {
          inc["resolved_at_us"] = at;
        } else {
          c["open_incidents"][id] = {{"impact", Str(b->impact())}, {"opened_at_us", at}};
        }
        Restate(c);
        break;
      }
      case EventBody::OutageNoticeUpdated: {
        const auto* b = e.body_as_OutageNoticeUpdated();
        const std::string id = Str(b->notice_id());
        Json& inc = s.Mutable("incident/" + id);
        if (inc.is_null()) return Status::Corruption("update of an unknown outage notice");
        const char* status = fbs::EnumNameOutageStatus(b->status());
        inc["status"] = status;
        if (!Str(b->message()).empty()) inc["message"] = Str(b->message());
        if (!Str(b->impact()).empty()) inc["impact"] = Str(b->impact());
        inc["updates"].push_back({{"status", status}, {"message", Str(b->message())},
                                  {"impact", Str(b->impact())}, {"recorded_at_us", at}});
        Json& c = s.Mutable("component/" + inc["component"].get<std::string>());
        if (b->status() == fbs::OutageStatus::Resolved) {
          if (!inc.contains("resolved_at_us")) inc["resolved_at_us"] = at;
          c["open_incidents"].erase(id);
        } else if (c["open_incidents"].contains(id)) {
          c["open_incidents"][id]["impact"] = inc["impact"];
        }
        Restate(c);
        break;
      }
      case EventBody::SubscriberAdded: {
        const auto* b = e.body_as_SubscriberAdded();
        Json topics = Json::array();
        // Still sealed with the secrets key: delivery unseals it.
        const std::string secret_hex =
            b->secret_sealed() ? ledger::ToHex(std::string_view(reinterpret_cast<const char*>(b->secret_sealed()->data()),
                                                                b->secret_sealed()->size()))
                               : std::string();
        if (b->topics())
          for (const auto* t : *b->topics()) topics.push_back(t->str());
        s.Put("subscriber/" + Str(b->subscriber_id()), {{"subscriber_id", Str(b->subscriber_id())},
                                                        {"owner_merchant_id", Str(b->owner_merchant_id())},
                                                        {"url", Str(b->url())},
                                                        {"topics", topics},
                                                        {"secret_sealed_hex", secret_hex},
                                                        {"added_at_us", at},
                                                        {"added_at_position", e.position()},
                                                        {"settled_through", e.position()}});
        break;
      }
      case EventBody::NotificationDelivered:
      case EventBody::NotificationFailed: {
        const bool delivered = e.body_type() == EventBody::NotificationDelivered;
        const std::string id = delivered ? Str(e.body_as_NotificationDelivered()->subscriber_id())
                                         : Str(e.body_as_NotificationFailed()->subscriber_id());
        Json& sub = s.Mutable("subscriber/" + id);
        if (sub.is_null()) break;  // removed since
        const uint64_t subject = delivered ? e.body_as_NotificationDelivered()->subject_position()
                                           : e.body_as_NotificationFailed()->subject_position();
        // Settled: delivered, or given up on; the next notification starts after it.
        if (delivered || !e.body_as_NotificationFailed()->will_retry())
          sub["settled_through"] = std::max<uint64_t>(sub.value("settled_through", uint64_t{0}), subject);
        AddTo(sub, delivered ? "delivered" : "failed_attempts", 1);
        break;
      }
      case EventBody::SubscriberRemoved:
        s.Erase("subscriber/" + Str(e.body_as_SubscriberRemoved()->subscriber_id()));
        break;
      default:
        break;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Projection> MakeStatusView() { return std::make_unique<StatusView>(); }

}  // namespace projections
