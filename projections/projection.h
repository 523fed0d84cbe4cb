// A read model's rule: a pure function of (state, event) (DESIGN §7). It reads and changes
// only `state` and decides only from the event's bytes (never the clock, never another
// read model), so live, restarted and rebuilt projectors reach the same state.
// Internal to projections/; the public header is projections.h.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "projections/read_model_store.h"
#include "schemas/ledger_generated.h"

namespace projections {

class Projection {
 public:
  explicit Projection(std::string name) : name_(std::move(name)) {}
  virtual ~Projection() = default;
  const std::string& name() const { return name_; }
  // Errors: Corruption for an event the rule cannot read (the projector stops there).
  virtual ledger::Status Apply(const ledger::schema::Event& event, StateTxn& state) const = 0;
  // The layout of the keys and values this rule writes. Raised when a rule starts writing
  // other keys for the same facts (a store of the old layout would mix both): the
  // projector rebuilds a store of another layout from position 1 (DECISIONS 105).
  virtual uint32_t layout_version() const { return 1; }

 private:
  const std::string name_;
};

std::unique_ptr<Projection> MakeCustomerView();
std::unique_ptr<Projection> MakeFeesView();
std::unique_ptr<Projection> MakeStorefrontView();
std::unique_ptr<Projection> MakeStatusView();
std::unique_ptr<Projection> MakeAccessView();

}  // namespace projections
