// Small readers of event fields for the projections: absent strings read as "", personal
// fields and order lines as records, postings as views, recorded-at as a UTC day. Pure
// functions (internal to projections/).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "projections/read_model_store.h"
#include "schemas/ledger_generated.h"

namespace projections {

inline std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// "YYYY-MM-DD" of a UTC instant in microseconds since the Unix epoch.
std::string UtcDay(int64_t at_us);

// The event's personal fields into *out (an object): the fields themselves when unsealed
// (key id 0), else {"sealed": true, "key_id": N, "position": P} (reading sealed fields is
// the keyring's, at query time).
void PersonalInto(const ledger::schema::Event& e, Record* out);

// An order's lines as records {quantity, sku[, unit_price_minor]}, appended to *lines.
void OrderLinesInto(const ledger::schema::OrderPlaced& order, bool with_unit_price, std::vector<Record>* lines);

// One posting of a money event, viewing the event's bytes (valid while the event is).
struct PostingView {
  std::string_view debit, credit, currency;
  int64_t amount_minor = 0;
};
// The postings of a money event (empty for other events). Views, not JSON: the fees view
// reads every event's postings, and building a JSON array for each cost it a tenth of its
// rebuild time.
std::vector<PostingView> PostingsOf(const ledger::schema::Event& e);
// The fee breakdown of a money event (null for other events).
const ledger::schema::FeeBreakdown* FeesOf(const ledger::schema::Event& e);

// Adds `delta` to the integer at j[key] (creating it at 0). A sum past int64 stays at the
// bound and sets j["overflowed"] (a read model must not crash on what the log holds).
void AddTo(Json& j, const std::string& key, int64_t delta);

}  // namespace projections
