#include "brook/internal/keyed_state_backend.h"

#include <brook/state.h>

#include <string>

namespace brook {

namespace internal {
std::string demangle(const char* mangled);
}  // namespace internal

internal::KeyedStateBackend& RuntimeContext::keyedBackend(const char* stateKind,
                                                          const std::string& stateName) const {
  if (keyedStateBackend == nullptr) {
    throw StateException(std::string(stateKind) + " '" + stateName + "' of operator '" +
                         operatorName + "': keyed state is only available on a keyed stream "
                         "(after keyBy)");
  }
  return *keyedStateBackend;
}

namespace internal {

void KeyedStateTable::fail(const std::string& what) const {
  throw StateException("state '" + name_ + "' of operator '" + backend_->operatorDescription() +
                       "' " + what);
}

KeyedStateBackend::KeyedStateBackend(std::string operatorDescription,
                                     int maxParallelism,
                                     int firstKeyGroup,
                                     int lastKeyGroup,
                                     KeyedBytesStore* store)
    : operatorDescription_(std::move(operatorDescription)),
      maxParallelism_(maxParallelism),
      firstKeyGroup_(firstKeyGroup),
      numberOfKeyGroups_(lastKeyGroup >= firstKeyGroup ? lastKeyGroup - firstKeyGroup + 1 : 0),
      store_(store) {}

KeyedStateBackend::~KeyedStateBackend() = default;

KeyedStateTable* KeyedStateBackend::findTable(std::string_view name) const {
  auto it = byName_.find(asAbsl(name));
  return it == byName_.end() ? nullptr : it->second->table.get();
}

void KeyedStateBackend::addState(std::string name,
                                 const std::type_info& type,
                                 std::unique_ptr<KeyedStateTable> table,
                                 std::unique_ptr<State> facade) {
  auto it = byName_.find(name);
  if (it != byName_.end())
    failTypeMismatch(name, *it->second->type, type);
  auto registration = std::make_unique<Registration>();
  registration->type = &type;
  registration->table = std::move(table);
  registration->facade = std::move(facade);
  KeyedStateTable& registered = *registration->table;
  byName_.emplace(std::move(name), registration.get());
  registrations_.push_back(std::move(registration));
  onRegistered(registered);
}

void KeyedStateBackend::failTypeMismatch(const std::string& name,
                                         const std::type_info& registered,
                                         const std::type_info& requested) const {
  throw StateException("state '" + name + "' of operator '" + operatorDescription_ +
                       "' is registered as " + demangle(registered.name()) +
                       " and cannot be used as " + demangle(requested.name()) +
                       ": a state name may be used with one type only");
}

}  // namespace internal
}  // namespace brook
