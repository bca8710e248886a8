#pragma once

/// The canonical snapshot format of keyed state: backend-independent and split by key group, so
/// that a snapshot written by either backend (heap or RocksDB) restores into either backend and
/// at another parallelism, each subtask reading only the key groups it owns.
///
/// Everything here is serialized bytes: keys, namespaces, values, list elements and map entries
/// are written exactly as the state's serializers produced them.
///
/// Format, version 1. Integers are little-endian; "varint" is LEB128 (at most 10 bytes);
/// "bytes" is a varint length followed by that many bytes; offsets count from the snapshot's
/// first byte. CRC-32C is defined in state/internal/crc32c.h.
///
///   snapshot := header section* index footer
///   header   := "BRKSTATE" | version u32 = 1 | maxParallelism u32 | range start u32
///               | range end + 1 u32 | crc32c of the previous 24 bytes u32          (28 bytes)
///   section  := block+        (one per key group that has entries, ascending key group)
///   block    := payload length u32 | crc32c(the 4 length bytes + payload) u32 | payload
///   payload  := record+       (records never span blocks; a block ends a section or holds at
///                              least 64 KiB)
///   record   := 0x01 section start  varint key group             (first record of a section)
///             | 0x02 state start    bytes name, u8 StateKind
///             | 0x03 value entry    bytes key, bytes namespace, bytes value
///             | 0x04 list entry     bytes key, bytes namespace, varint n >= 1, n x bytes element
///             | 0x05 map entry      bytes key, bytes namespace, bytes user key, bytes user value
///             | 0x06 state end      varint entries since the state start
///             | 0x07 section end    varint states in the section (ends the section's last block)
///   index    := varint n | n x (varint key group, varint offset, varint length) of each section
///   footer   := index offset u64 | index length u32 | crc32c(index) u32 | "BRKSTEND"  (24 bytes)
///
/// Within a section each state appears at most once, and its entries follow its state start.
/// Every byte is covered by a checksum or a magic number, so the reader turns any corruption or
/// truncation into an absl::DataLossError; it never crashes, hangs, or allocates more than the
/// snapshot's size because of bad input.

#include <cstdint>
#include <istream>
#include <memory>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "state/key_group.h"
#include "state/state_kind.h"

namespace brook::state {

/// The largest max parallelism keyed state supports: a key group must fit in the two bytes the
/// RocksDB key layout gives it (Flink has the same bound).
inline constexpr int kUpperBoundMaxParallelism = 1 << 15;

/// Writes one keyed state snapshot to a stream, key group by key group in ascending order.
///
/// Usage: for each key group, `beginKeyGroup`; for each state, `beginState`; then its entries;
/// finally `finish`. Key groups and states without entries cost nothing (their records are only
/// written with the first entry), so a backend may begin every key group and state it has. A
/// list with no elements is absent and is skipped. Entries are buffered into blocks of about
/// 64 KiB. Errors are sticky: after one, every call returns it. Misuse (key groups out of order
/// or outside the range, an entry whose kind differs from its state's) is FailedPrecondition;
/// a failing stream is Unavailable. Not thread-safe; the stream must outlive the writer.
class KeyedStateSnapshotWriter {
 public:
  /// Starts a snapshot of `range` (key groups of [0, maxParallelism)) on `out` by writing its
  /// header. `sinkName` (a file path, say) appears in errors.
  static absl::StatusOr<KeyedStateSnapshotWriter> create(std::ostream& out,
                                                         std::string sinkName,
                                                         int maxParallelism,
                                                         KeyGroupRange range);

  KeyedStateSnapshotWriter(KeyedStateSnapshotWriter&&) = default;
  KeyedStateSnapshotWriter& operator=(KeyedStateSnapshotWriter&&) = default;

  /// Ends the current key group and starts `keyGroup`, which must be in the range and greater
  /// than every key group begun before.
  absl::Status beginKeyGroup(int keyGroup);
  /// Ends the current state and starts `name` in the current key group; a name may be begun
  /// once per key group.
  absl::Status beginState(std::string_view name, StateKind kind);

  absl::Status writeValue(std::string_view key,
                          std::string_view stateNamespace,
                          std::string_view value);
  absl::Status writeList(std::string_view key,
                         std::string_view stateNamespace,
                         std::span<const std::string_view> elements);
  absl::Status writeList(std::string_view key,
                         std::string_view stateNamespace,
                         std::span<const std::string> elements);
  absl::Status writeMapEntry(std::string_view key,
                             std::string_view stateNamespace,
                             std::string_view userKey,
                             std::string_view userValue);

  /// Ends the last key group, writes the index and footer and flushes the stream. Nothing may
  /// be written afterwards.
  absl::Status finish();

  /// Bytes handed to the stream so far.
  uint64_t bytesWritten() const { return offset_; }
  const std::string& sinkName() const { return sinkName_; }

 private:
  KeyedStateSnapshotWriter(std::ostream& out, std::string sinkName);

  absl::Status checkWritable() const;
  absl::Status checkEntry(StateKind kind);
  absl::Status openStateIfPending();
  absl::Status endRecord();
  absl::Status closeState();
  absl::Status closeSection();
  absl::Status flushBlock();
  absl::Status writeToStream(std::string_view bytes);
  absl::Status fail(absl::Status status);

  struct IndexEntry {
    int keyGroup;
    uint64_t offset;
    uint64_t length;
  };

  std::ostream* out_;
  std::string sinkName_;
  KeyGroupRange range_;
  absl::Status status_;
  bool finished_ = false;
  uint64_t offset_ = 0;
  std::string block_;
  std::vector<IndexEntry> index_;

  // The key group begun last (-1: none yet), and whether its section start is written.
  int keyGroup_ = -1;
  bool sectionOpen_ = false;
  uint64_t sectionOffset_ = 0;
  uint64_t statesInSection_ = 0;
  std::set<std::string, std::less<>> statesBegun_;
  // The state begun last, and whether its state start is written.
  bool stateBegun_ = false;
  bool stateOpen_ = false;
  std::string stateName_;
  StateKind stateKind_ = StateKind::kValue;
  uint64_t entriesInState_ = 0;
};

/// One entry read from a snapshot. The views point into the reader's buffers and stay valid
/// until the reader's next `next` or `seek`.
struct KeyedStateEntry {
  int keyGroup = 0;
  std::string_view stateName;
  StateKind kind = StateKind::kValue;
  std::string_view key;
  std::string_view stateNamespace;
  /// kValue: the value; kMap: the user value.
  std::string_view value;
  /// kMap: the user key.
  std::string_view userKey;
  /// kList: the elements, in order; never empty.
  std::vector<std::string_view> elements;
};

/// Reads a snapshot written by KeyedStateSnapshotWriter, from the stream's current position to
/// its end, which must be seekable. `open` checks the header, index and footer; `seek` picks the
/// key groups to read and `next` yields their entries, checking each block's checksum before
/// yielding anything from it and each section's structure and counts. Every corruption is an
/// absl::DataLossError naming the source, the key group and state where known, and what is
/// wrong. Not thread-safe; the stream must outlive the reader.
class KeyedStateSnapshotReader {
 public:
  static absl::StatusOr<KeyedStateSnapshotReader> open(std::istream& in, std::string sourceName);

  KeyedStateSnapshotReader(KeyedStateSnapshotReader&&) = default;
  KeyedStateSnapshotReader& operator=(KeyedStateSnapshotReader&&) = default;

  int maxParallelism() const { return maxParallelism_; }
  /// The key groups the writer covered (some may have no entries).
  KeyGroupRange keyGroupRange() const { return range_; }
  /// The key groups that have entries, ascending.
  std::vector<int> keyGroupsWithEntries() const;
  const std::string& sourceName() const { return sourceName_; }

  /// Positions the reader before the first entry of the key groups in `range` (intersected with
  /// the snapshot's own range; an empty intersection yields nothing).
  void seek(KeyGroupRange range);
  /// Reads the next entry of the sought range into `entry`; returns false after the last one.
  /// Before any `seek`, the whole snapshot is read.
  absl::StatusOr<bool> next(KeyedStateEntry* entry);

 private:
  struct IndexEntry {
    int keyGroup;
    uint64_t offset;
    uint64_t length;
  };

  KeyedStateSnapshotReader(std::istream& in, std::string sourceName, uint64_t base);

  absl::Status readAt(uint64_t offset, uint64_t length, std::string* out, std::string_view what);
  absl::Status readHeaderAndIndex();
  absl::Status startSection();
  absl::Status loadBlock();
  absl::Status corrupt(std::string_view what) const;

  std::istream* in_;
  std::string sourceName_;
  uint64_t base_;
  uint64_t size_ = 0;
  int maxParallelism_ = 0;
  KeyGroupRange range_;
  std::vector<IndexEntry> index_;

  // The sections still to read are index_[nextSection_, endSection_).
  size_t nextSection_ = 0;
  size_t endSection_ = 0;
  // The section being read: index_[section_] while inSection_.
  bool inSection_ = false;
  size_t section_ = 0;
  uint64_t nextBlockOffset_ = 0;
  uint64_t sectionEnd_ = 0;
  bool sectionStarted_ = false;
  uint64_t statesInSection_ = 0;
  std::set<std::string, std::less<>> statesInSectionNames_;
  // The block being read.
  std::string block_;
  uint64_t blockOffset_ = 0;
  size_t blockPosition_ = 0;
  // The state being read.
  bool inState_ = false;
  std::string stateName_;
  StateKind stateKind_ = StateKind::kValue;
  uint64_t entriesInState_ = 0;
};

/// Snapshot content written key group by key group, so that another snapshot can interleave it
/// with its own within each key group's section (the RocksDB backend adds its heap-held timers to
/// the store's states this way). Immutable once made: its methods may run on any thread.
class KeyGroupedSnapshotContent {
 public:
  virtual ~KeyGroupedSnapshotContent() = default;

  /// The key groups that have content, ascending.
  virtual std::span<const int> keyGroups() const = 0;
  /// Writes the states of `keyGroup` into the key group that `writer` has just begun (or has
  /// begun and written other states into); none of these states may have been begun in it.
  virtual absl::Status writeKeyGroup(int keyGroup, KeyedStateSnapshotWriter& writer) const = 0;
};

/// The files of a native snapshot of a RocksDB store (an incremental checkpoint's share of
/// one operator instance), in a local directory that the snapshot owns.
struct NativeSnapshotFiles {
  std::string directory;
  /// File names in `directory`, sorted; the SST files (".sst") are immutable and named uniquely
  /// within the store, the others (MANIFEST, CURRENT, OPTIONS) describe this snapshot alone.
  std::vector<std::string> files;
};

/// How a store restored a native snapshot: its files became the store's own (same names), or
/// the entries of the store's key groups were copied out of them into new files.
enum class NativeRestore { kFilesAdopted, kEntriesCopied };

/// The asynchronous phase of a keyed state snapshot: what a backend's synchronous phase returns
/// once it has frozen its state (a RocksDB snapshot, copy-on-write heap tables). `write` may run
/// on another thread while the backend keeps taking writes, which it never sees; it writes the
/// frozen state of its key groups to `writer` without calling `finish`. The backend that made
/// it must outlive it unless the implementation says otherwise.
class KeyedStateSnapshot {
 public:
  virtual ~KeyedStateSnapshot() = default;

  /// An incremental snapshot's native files, or null for a snapshot in the canonical format
  /// alone. `write` then writes only the state the native files do not hold.
  virtual const NativeSnapshotFiles* nativeFiles() const { return nullptr; }

  /// The key groups this snapshot covers; `writer` must have been created for a range that
  /// includes them.
  virtual KeyGroupRange keyGroupRange() const = 0;
  virtual absl::Status write(KeyedStateSnapshotWriter& writer) = 0;
};

}  // namespace brook::state
