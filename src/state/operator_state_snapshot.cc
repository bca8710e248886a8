#include "state/operator_state_snapshot.h"

#include <algorithm>
#include <map>

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

#include "state/internal/byte_reader.h"
#include "state/internal/crc32c.h"

namespace brook::state {

namespace {

constexpr std::string_view kMagic = "BRKOPSTA";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4;

using internal::appendFixed32;
using internal::appendFixed64;
using internal::appendLengthPrefixed;
using internal::appendVarint64;
using internal::ByteReader;
using brook::internal::OperatorStateData;
using brook::internal::OperatorStateSnapshotData;

bool validMode(uint8_t mode) {
  return mode >= static_cast<uint8_t>(OperatorStateMode::kSplit) &&
         mode <= static_cast<uint8_t>(OperatorStateMode::kBroadcast);
}

}  // namespace

std::string encodeOperatorStateSnapshot(const OperatorStateSnapshotData& data) {
  std::string payload;
  appendVarint64(&payload, data.states.size());
  for (const OperatorStateData& s : data.states) {
    appendLengthPrefixed(&payload, s.name);
    payload.push_back(static_cast<char>(s.mode));
    appendVarint64(&payload, s.elements.size());
    for (const std::string& e : s.elements)
      appendLengthPrefixed(&payload, e);
    appendVarint64(&payload, s.entries.size());
    for (const auto& [k, v] : s.entries) {
      appendLengthPrefixed(&payload, k);
      appendLengthPrefixed(&payload, v);
    }
  }
  std::string out(kMagic);
  appendFixed32(&out, kVersion);
  appendFixed64(&out, payload.size());
  appendFixed32(&out, internal::crc32c(payload));
  out += payload;
  return out;
}

absl::StatusOr<OperatorStateSnapshotData> decodeOperatorStateSnapshot(std::string_view bytes,
                                                                      std::string_view sourceName) {
  auto corrupt = [&](std::string_view what) {
    return absl::DataLossError(
        absl::StrCat("operator state snapshot '", std::string(sourceName),
                     "' is corrupt: ", std::string(what)));
  };
  if (bytes.size() < kHeaderSize || bytes.substr(0, kMagic.size()) != kMagic)
    return corrupt("no operator state snapshot header");
  ByteReader header(bytes.substr(kMagic.size(), kHeaderSize - kMagic.size()));
  uint32_t version = 0;
  uint64_t length = 0;
  uint32_t crc = 0;
  header.readFixed32(&version);
  header.readFixed64(&length);
  header.readFixed32(&crc);
  if (version != kVersion)
    return corrupt(absl::StrCat("unsupported version ", version, " (this release reads ",
                                kVersion, ")"));
  std::string_view payload = bytes.substr(kHeaderSize);
  if (length != payload.size())
    return corrupt(absl::StrCat("payload of ", payload.size(), " bytes, header says ", length));
  if (internal::crc32c(payload) != crc)
    return corrupt("checksum mismatch");

  ByteReader in(payload);
  OperatorStateSnapshotData data;
  uint64_t states = 0;
  if (!in.readVarint64(&states) || states > payload.size())
    return corrupt("bad state count");
  for (uint64_t i = 0; i < states; ++i) {
    OperatorStateData& s = data.states.emplace_back();
    std::string_view name;
    uint8_t mode = 0;
    if (!in.readLengthPrefixed(&name) || !in.readByte(&mode) || !validMode(mode))
      return corrupt(absl::StrCat("bad header of state ", i));
    s.name = std::string(name);
    s.mode = static_cast<OperatorStateMode>(mode);
    uint64_t n = 0;
    if (!in.readVarint64(&n) || n > payload.size())
      return corrupt(absl::StrCat("bad element count of state '", s.name, "'"));
    for (uint64_t j = 0; j < n; ++j) {
      std::string_view e;
      if (!in.readLengthPrefixed(&e))
        return corrupt(absl::StrCat("truncated element of state '", s.name, "'"));
      s.elements.emplace_back(e);
    }
    if (!in.readVarint64(&n) || n > payload.size())
      return corrupt(absl::StrCat("bad entry count of state '", s.name, "'"));
    for (uint64_t j = 0; j < n; ++j) {
      std::string_view k;
      std::string_view v;
      if (!in.readLengthPrefixed(&k) || !in.readLengthPrefixed(&v))
        return corrupt(absl::StrCat("truncated entry of state '", s.name, "'"));
      s.entries.emplace_back(std::string(k), std::string(v));
    }
  }
  if (!in.empty())
    return corrupt("trailing bytes after the last state");
  return data;
}

absl::StatusOr<std::vector<OperatorStateSnapshotData>> redistributeOperatorState(
    const std::vector<OperatorStateSnapshotData>& previous,
    int newParallelism) {
  if (newParallelism < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("cannot redistribute operator state to parallelism ", newParallelism));
  std::vector<OperatorStateSnapshotData> result(static_cast<size_t>(newParallelism));
  // Per state name, in order of first appearance: its mode and all its data in subtask order.
  struct Merged {
    OperatorStateMode mode;
    std::vector<std::string> elements;
    std::vector<const OperatorStateData*> perSubtask;  // broadcast: one per old subtask
  };
  std::vector<std::string> order;
  std::map<std::string, Merged> merged;
  for (const OperatorStateSnapshotData& snapshot : previous) {
    for (const OperatorStateData& s : snapshot.states) {
      auto [it, inserted] = merged.try_emplace(s.name, Merged{s.mode, {}, {}});
      if (inserted) {
        order.push_back(s.name);
      } else if (it->second.mode != s.mode) {
        return absl::InvalidArgumentError(absl::StrCat(
            "operator state '", s.name, "' was snapshotted with two different modes"));
      }
      it->second.elements.insert(it->second.elements.end(), s.elements.begin(), s.elements.end());
      it->second.perSubtask.push_back(&s);
    }
  }
  for (const std::string& name : order) {
    Merged& m = merged.at(name);
    switch (m.mode) {
      case OperatorStateMode::kSplit: {
        size_t total = m.elements.size();
        size_t base = total / static_cast<size_t>(newParallelism);
        size_t extra = total % static_cast<size_t>(newParallelism);
        size_t next = 0;
        for (size_t i = 0; i < result.size(); ++i) {
          size_t count = base + (i < extra ? 1 : 0);
          OperatorStateData& s = result[i].states.emplace_back();
          s.name = name;
          s.mode = m.mode;
          s.elements.assign(m.elements.begin() + static_cast<std::ptrdiff_t>(next),
                            m.elements.begin() + static_cast<std::ptrdiff_t>(next + count));
          next += count;
        }
        break;
      }
      case OperatorStateMode::kUnion:
        for (auto& r : result) {
          OperatorStateData& s = r.states.emplace_back();
          s.name = name;
          s.mode = m.mode;
          s.elements = m.elements;
        }
        break;
      case OperatorStateMode::kBroadcast:
        for (size_t i = 0; i < result.size(); ++i) {
          const OperatorStateData& from = *m.perSubtask[i % m.perSubtask.size()];
          result[i].states.push_back(from);
        }
        break;
    }
  }
  return result;
}

}  // namespace brook::state
