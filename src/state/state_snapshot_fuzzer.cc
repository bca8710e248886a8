// Feeds arbitrary bytes to the keyed state snapshot reader, as a corrupt or hostile checkpoint
// file could: open, read the whole range, re-read it after a seek, and read a sub-range.
//
// Every input is read twice: as given, and with its checksums recomputed wherever the bytes
// let them be found (header, index, every block of every section the index names), so that
// mutations reach the record parser instead of stopping at a checksum mismatch.

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "state/internal/byte_reader.h"
#include "state/internal/crc32c.h"
#include "state/state_snapshot.h"

namespace {

using namespace brook::state;

constexpr uint64_t kHeaderSize = 28;
constexpr uint64_t kFooterSize = 24;

/// An entry copied out of the reader's buffers.
struct OwnedEntry {
  int keyGroup;
  std::string stateName;
  StateKind kind;
  std::string key;
  std::string stateNamespace;
  std::string value;
  std::string userKey;
  std::vector<std::string> elements;
  bool operator==(const OwnedEntry&) const = default;
};

struct ReadResult {
  std::vector<OwnedEntry> entries;
  absl::Status status;
};

void checkStatus(const absl::Status& status) {
  // Every corruption is DataLoss; anything else (or a crash) is a bug.
  if (!status.ok() && status.code() != absl::StatusCode::kDataLoss)
    __builtin_trap();
}

/// Reads the sought range to its end or first error. Each entry consumes at least one byte of
/// the snapshot, so more entries than bytes means the reader loops.
ReadResult readRange(KeyedStateSnapshotReader& reader, KeyGroupRange range, size_t inputSize) {
  ReadResult result;
  KeyedStateEntry entry;
  while (true) {
    absl::StatusOr<bool> more = reader.next(&entry);
    if (!more.ok()) {
      checkStatus(more.status());
      result.status = more.status();
      return result;
    }
    if (!*more)
      return result;
    if (!range.contains(entry.keyGroup) || !reader.keyGroupRange().contains(entry.keyGroup))
      __builtin_trap();
    if ((entry.kind == StateKind::kList) == entry.elements.empty())
      __builtin_trap();
    if (result.entries.size() > inputSize)
      __builtin_trap();
    OwnedEntry owned{entry.keyGroup,
                     std::string(entry.stateName),
                     entry.kind,
                     std::string(entry.key),
                     std::string(entry.stateNamespace),
                     std::string(entry.value),
                     std::string(entry.userKey),
                     {}};
    for (std::string_view element : entry.elements)
      owned.elements.emplace_back(element);
    result.entries.push_back(std::move(owned));
  }
}

void fuzzSnapshot(const std::string& bytes) {
  std::istringstream in(bytes);
  absl::StatusOr<KeyedStateSnapshotReader> reader =
      KeyedStateSnapshotReader::open(in, "fuzz.snapshot");
  if (!reader.ok()) {
    checkStatus(reader.status());
    return;
  }
  const KeyGroupRange range = reader->keyGroupRange();
  if (reader->maxParallelism() < 1 || reader->maxParallelism() > kUpperBoundMaxParallelism ||
      range.start < 0 || range.end >= reader->maxParallelism() || range.end < range.start - 1)
    __builtin_trap();
  const std::vector<int> groups = reader->keyGroupsWithEntries();
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!range.contains(groups[i]) || (i > 0 && groups[i] <= groups[i - 1]))
      __builtin_trap();
  }

  // The whole snapshot, as read before any seek.
  const ReadResult whole = readRange(*reader, range, bytes.size());
  // Again after a seek to the whole range: the same entries and the same outcome, even when
  // the first read stopped at an error in the middle of a section.
  reader->seek(range);
  const ReadResult again = readRange(*reader, range, bytes.size());
  if (again.entries != whole.entries || again.status != whole.status)
    __builtin_trap();

  // A sub-range: the middle third of the key groups with entries (or of the range).
  KeyGroupRange sub = range;
  if (!groups.empty()) {
    sub = KeyGroupRange{groups[groups.size() / 3], groups[groups.size() * 2 / 3]};
  } else if (range.size() > 0) {
    sub = KeyGroupRange{range.start + range.size() / 3, range.start + range.size() * 2 / 3};
  }
  reader->seek(sub);
  const ReadResult part = readRange(*reader, sub, bytes.size());
  if (whole.status.ok()) {
    // A snapshot that reads cleanly reads cleanly in part, yielding exactly those key groups.
    std::vector<OwnedEntry> expected;
    for (const OwnedEntry& e : whole.entries) {
      if (sub.contains(e.keyGroup))
        expected.push_back(e);
    }
    if (!part.status.ok() || part.entries != expected)
      __builtin_trap();
  }

  // Ranges outside the snapshot's, or empty, yield nothing.
  reader->seek(KeyGroupRange{range.end + 1, kUpperBoundMaxParallelism});
  ReadResult after = readRange(*reader, range, bytes.size());
  if (!after.status.ok() || !after.entries.empty())
    __builtin_trap();
  reader->seek(KeyGroupRange{range.start, range.start - 1});
  after = readRange(*reader, range, bytes.size());
  if (!after.status.ok() || !after.entries.empty())
    __builtin_trap();
}

void putFixed32(std::string* bytes, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    (*bytes)[at + i] = static_cast<char>(v >> (8 * i));
}

uint32_t getFixed32(std::string_view bytes, uint64_t at) {
  uint32_t v = 0;
  internal::ByteReader(bytes.substr(at, 4)).readFixed32(&v);
  return v;
}

/// Recomputes every checksum of `bytes` that can be located; leaves the rest alone.
std::string withChecksumsFixed(std::string bytes) {
  const uint64_t size = bytes.size();
  if (size < kHeaderSize + kFooterSize)
    return bytes;
  putFixed32(&bytes, 24, internal::crc32c(std::string_view(bytes).substr(0, 24)));
  internal::ByteReader footer(std::string_view(bytes).substr(size - kFooterSize));
  uint64_t indexOffset = 0;
  uint32_t indexLength = 0;
  footer.readFixed64(&indexOffset);
  footer.readFixed32(&indexLength);
  const uint64_t indexEnd = size - kFooterSize;
  if (indexOffset < kHeaderSize || indexOffset > indexEnd || indexEnd - indexOffset != indexLength)
    return bytes;
  const std::string index = bytes.substr(indexOffset, indexLength);
  putFixed32(&bytes, size - kFooterSize + 12, internal::crc32c(index));
  internal::ByteReader r(index);
  uint64_t count = 0;
  if (!r.readVarint64(&count))
    return bytes;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t keyGroup = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    if (!r.readVarint64(&keyGroup) || !r.readVarint64(&offset) || !r.readVarint64(&length) ||
        offset < kHeaderSize || offset > indexOffset || length > indexOffset - offset)
      return bytes;
    // The section's blocks, as far as their lengths chain.
    const uint64_t end = offset + length;
    uint64_t at = offset;
    while (end - at >= 8) {
      const uint32_t blockLength = getFixed32(bytes, at);
      if (blockLength > end - at - 8)
        break;
      const uint32_t crc =
          internal::crc32cExtend(internal::crc32c(std::string_view(bytes).substr(at, 4)),
                                 std::string_view(bytes).substr(at + 8, blockLength));
      putFixed32(&bytes, at + 4, crc);
      at += 8 + blockLength;
    }
  }
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzzSnapshot(bytes);
  const std::string fixed = withChecksumsFixed(bytes);
  if (fixed != bytes)
    fuzzSnapshot(fixed);
  return 0;
}
