#include "brook/operator_state_store.h"

#include <string>

namespace brook {

namespace internal {
std::string demangle(const char* mangled);
}  // namespace internal

namespace {
const char* modeName(OperatorStateMode mode) {
  switch (mode) {
    case OperatorStateMode::kSplit:
      return "list state";
    case OperatorStateMode::kUnion:
      return "union list state";
    case OperatorStateMode::kBroadcast:
      return "broadcast state";
  }
  return "operator state";
}
}  // namespace

internal::OperatorStateTable* OperatorStateStore::find(const std::string& name,
                                                       const std::type_info& type,
                                                       OperatorStateMode mode) const {
  for (const Registration& r : states_) {
    if (r.table->name() != name)
      continue;
    if (*r.type != type || r.table->mode() != mode) {
      throw StateException("operator state '" + name + "' of operator '" + operatorDescription_ +
                           "' is registered as " + modeName(r.table->mode()) + " of " +
                           internal::demangle(r.type->name()) + " and cannot be used as " +
                           modeName(mode) + " of " + internal::demangle(type.name()));
    }
    return r.table.get();
  }
  return nullptr;
}

void OperatorStateStore::add(std::unique_ptr<internal::OperatorStateTable> table) {
  internal::OperatorStateTable& t = *table;
  const std::type_info& type = typeid(t);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->name != t.name()) {
      ++it;
      continue;
    }
    if (it->mode != t.mode()) {
      throw StateException("operator state '" + t.name() + "' of operator '" +
                           operatorDescription_ + "' was restored as " + modeName(it->mode) +
                           " and is registered as " + modeName(t.mode()));
    }
    try {
      t.restore(*it);
    } catch (const SerializationError& e) {
      throw StateException("operator state '" + t.name() + "' of operator '" +
                           operatorDescription_ + "': restored bytes do not decode: " + e.what());
    }
    it = pending_.erase(it);
  }
  states_.push_back(Registration{&type, std::move(table)});
}

internal::OperatorStateSnapshotData OperatorStateStore::snapshot() const {
  internal::OperatorStateSnapshotData data;
  for (const Registration& r : states_) {
    internal::OperatorStateData& s = data.states.emplace_back();
    s.name = r.table->name();
    s.mode = r.table->mode();
    r.table->snapshot(s);
  }
  for (const internal::OperatorStateData& p : pending_)
    data.states.push_back(p);
  return data;
}

void OperatorStateStore::restore(internal::OperatorStateSnapshotData data) {
  for (internal::OperatorStateData& s : data.states)
    pending_.push_back(std::move(s));
}

OperatorStateStore& RuntimeContext::getOperatorStateStore() const {
  if (operatorStateStore == nullptr) {
    throw StateException("operator '" + operatorName + "' has no operator state store");
  }
  return *operatorStateStore;
}

}  // namespace brook
