// An EventStore that forwards everything to another one, except that its log reads
// (ScanRangeInto) fail with IOError whenever `scan_fault(from, limit)` says so: to test what
// readers of the log do when a read fails and when it succeeds again. ReadyToAppend answers
// `ready_fault()` instead of the inner store's while that is not OK (a fenced, closing or
// full store, as the sequencer sees it). It can also hold
// AppendAsync's commands back (as a stalled disk would: taken, not yet written) until they
// are released.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/keyring.h"

namespace testing_support {

class FaultyReadStore final : public ledger::EventStore {
 public:
  explicit FaultyReadStore(ledger::EventStore* inner) : inner_(inner) {}
  // Owning its inner store: to stand in for a store that a node opens (ReplicatedShard's
  // store wrapper).
  explicit FaultyReadStore(std::unique_ptr<ledger::EventStore> owned) : inner_(owned.get()), owned_(std::move(owned)) {}

  // Called with each scan's first position and length; true fails that scan. Set before
  // reading.
  std::function<bool(ledger::Position from, size_t limit)> scan_fault;
  // When set and not OK, what ReadyToAppend answers. Set before appending.
  std::function<ledger::Status()> ready_fault;
  // When set and not OK, what AppendAsync answers (nothing written), as a store whose
  // write failed after the command was taken.
  std::function<ledger::Status()> append_fault;
  // Scans failed so far.
  size_t scans_failed() const { return scans_failed_.load(); }

  ledger::Status ScanRangeInto(ledger::Position from, size_t limit, ledger::EventChunk* out) const override {
    if (scan_fault && scan_fault(from, limit)) {
      scans_failed_++;
      return ledger::Status::IOError("injected read failure at position " + std::to_string(from.value()));
    }
    return inner_->ScanRangeInto(from, limit, out);
  }

  ledger::Result<ledger::AppendResult> Append(ledger::AppendCommand command) override {
    return inner_->Append(std::move(command));
  }
  void AppendAsync(ledger::AppendCommand command, std::function<void(ledger::Result<ledger::AppendResult>)> done) override {
    if (append_fault)
      if (ledger::Status s = append_fault(); !s.ok()) {
        done(s);
        return;
      }
    {
      std::lock_guard<std::mutex> lock(held_mu_);
      if (holding_) {
        held_.emplace_back(std::move(command), std::move(done));
        return;
      }
    }
    inner_->AppendAsync(std::move(command), std::move(done));
  }
  // From now on AppendAsync keeps its commands (they count as unwritten).
  void HoldAppends() {
    std::lock_guard<std::mutex> lock(held_mu_);
    holding_ = true;
  }
  size_t held_appends() const {
    std::lock_guard<std::mutex> lock(held_mu_);
    return held_.size();
  }
  // Passes the held commands on, in order, and stops holding.
  void ReleaseHeldAppends() {
    std::lock_guard<std::mutex> lock(held_mu_);  // kept: nothing overtakes them
    holding_ = false;
    for (auto& [command, done] : held_) inner_->AppendAsync(std::move(command), std::move(done));
    held_.clear();
  }
  ledger::Status SetWriterEpoch(ledger::Epoch epoch) override { return inner_->SetWriterEpoch(epoch); }
  ledger::Status AttemptPromotion(ledger::Epoch epoch) override { return inner_->AttemptPromotion(epoch); }
  ledger::Epoch writer_epoch() const override { return inner_->writer_epoch(); }
  ledger::Head head() const override { return inner_->head(); }
  ledger::Result<std::vector<ledger::StoredEvent>> ReadRange(ledger::Position from, size_t limit) const override {
    return inner_->ReadRange(from, limit);
  }
  ledger::Result<std::vector<ledger::StoredEvent>> ReadStream(const std::string& stream, ledger::StreamVersion from,
                                                              ledger::ReadDirection direction,
                                                              size_t limit) const override {
    return inner_->ReadStream(stream, from, direction, limit);
  }
  ledger::Result<ledger::StreamVersion> StreamHead(const std::string& stream) const override {
    return inner_->StreamHead(stream);
  }
  ledger::Result<std::optional<ledger::IdempotencyEntry>> LookupIdempotency(const std::string& merchant,
                                                                            const std::string& key) const override {
    return inner_->LookupIdempotency(merchant, key);
  }
  ledger::StoreStats stats() const override { return inner_->stats(); }
  ledger::Result<std::vector<std::string>> ReadBatches(ledger::Position from, size_t limit) const override {
    return inner_->ReadBatches(from, limit);
  }
  ledger::Result<std::vector<ledger::BatchInfo>> ReadBatchInfos(ledger::Position from, size_t limit) const override {
    return inner_->ReadBatchInfos(from, limit);
  }
  ledger::Status AppendCanonicalBatch(std::string_view batch_bytes, const ledger::CanonicalMark& after) override {
    return inner_->AppendCanonicalBatch(batch_bytes, after);
  }
  ledger::Status fenced() const override { return inner_->fenced(); }
  void RenewLease(std::chrono::steady_clock::time_point valid_until) override { inner_->RenewLease(valid_until); }
  size_t answers_awaiting_lease() const override { return inner_->answers_awaiting_lease(); }
  bool idle() const override { return held_appends() == 0 && inner_->idle(); }
  bool appends_unwritten() const override { return held_appends() > 0 || inner_->appends_unwritten(); }
  void AnswerWhenAcknowledgeable(ledger::Position through, std::function<void(ledger::Status)> done) override {
    inner_->AnswerWhenAcknowledgeable(through, std::move(done));
  }
  ledger::Status ReadyToAppend() const override {
    if (ready_fault)
      if (ledger::Status s = ready_fault(); !s.ok()) return s;
    return inner_->ReadyToAppend();
  }
  bool lease_valid() const override { return inner_->lease_valid(); }
  ledger::Result<ledger::QuarantineReport> RejoinAsFollower() override { return inner_->RejoinAsFollower(); }
  ledger::Result<std::vector<ledger::StoredEvent>> ReadQuarantine(size_t limit) const override {
    return inner_->ReadQuarantine(limit);
  }
  ledger::CanonicalMark canonical_mark() const override { return inner_->canonical_mark(); }
  void WaitForLogPast(ledger::Position seen, bool canonical, int timeout_ms) const override {
    inner_->WaitForLogPast(seen, canonical, timeout_ms);
  }
  uint64_t AddLogWatcher(LogWatcher wake) override { return inner_->AddLogWatcher(std::move(wake)); }
  void RemoveLogWatcher(uint64_t id) override { inner_->RemoveLogWatcher(id); }
  ledger::Status StartNewKafkaIncarnation(ledger::Epoch epoch, const std::string& owner) override {
    return inner_->StartNewKafkaIncarnation(epoch, owner);
  }
  ledger::Result<std::unique_ptr<ledger::Keyring>> OpenKeyring(const ledger::SecretKey& secrets_key) override {
    return inner_->OpenKeyring(secrets_key);
  }
  std::string kafka_cluster_id() const override { return inner_->kafka_cluster_id(); }
  ledger::Status SetKafkaClusterId(const std::string& cluster_id) override {
    return inner_->SetKafkaClusterId(cluster_id);
  }
  ledger::Status PutSnapshot(const std::string& key, const std::string& value) override {
    return inner_->PutSnapshot(key, value);
  }
  ledger::Result<std::optional<std::string>> GetSnapshot(const std::string& key) const override {
    return inner_->GetSnapshot(key);
  }
  ledger::Status ClearSnapshots() override { return inner_->ClearSnapshots(); }

 private:
  ledger::EventStore* inner_;
  std::unique_ptr<ledger::EventStore> owned_;  // when it owns inner_ (null otherwise)
  mutable std::atomic<size_t> scans_failed_{0};
  mutable std::mutex held_mu_;
  bool holding_ = false;  // GUARDED_BY(held_mu_)
  std::deque<std::pair<ledger::AppendCommand, std::function<void(ledger::Result<ledger::AppendResult>)>>>
      held_;  // GUARDED_BY(held_mu_)
};

}  // namespace testing_support
