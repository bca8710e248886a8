#include "state/state_snapshot.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <absl/strings/str_cat.h>

#include "common/status_macros.h"
#include "state/internal/byte_reader.h"
#include "state/internal/crc32c.h"

namespace brook::state {

namespace {

using internal::appendFixed32;
using internal::appendFixed64;
using internal::appendLengthPrefixed;
using internal::appendVarint64;
using internal::ByteReader;
using internal::crc32c;
using internal::crc32cExtend;

constexpr std::string_view kHeaderMagic = "BRKSTATE";
constexpr std::string_view kFooterMagic = "BRKSTEND";
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kHeaderSize = 28;
constexpr uint64_t kFooterSize = 24;
constexpr uint64_t kBlockHeaderSize = 8;
// A block is written once it holds this much; larger blocks mean fewer checksums and reads,
// smaller ones less memory in the reader.
constexpr size_t kTargetBlockBytes = 64 * 1024;

enum RecordType : uint8_t {
  kSectionStart = 0x01,
  kStateStart = 0x02,
  kValueEntry = 0x03,
  kListEntry = 0x04,
  kMapEntry = 0x05,
  kStateEnd = 0x06,
  kSectionEnd = 0x07,
};

bool isValidKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(StateKind::kValue) &&
         kind <= static_cast<uint8_t>(StateKind::kMap);
}

absl::string_view toAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

template <typename Element>
void appendListRecord(std::string* block,
                      std::string_view key,
                      std::string_view stateNamespace,
                      std::span<const Element> elements) {
  block->push_back(static_cast<char>(kListEntry));
  appendLengthPrefixed(block, key);
  appendLengthPrefixed(block, stateNamespace);
  appendVarint64(block, elements.size());
  for (const Element& element : elements) {
    appendLengthPrefixed(block, element);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KeyedStateSnapshotWriter

KeyedStateSnapshotWriter::KeyedStateSnapshotWriter(std::ostream& out, std::string sinkName)
    : out_(&out), sinkName_(std::move(sinkName)) {}

absl::StatusOr<KeyedStateSnapshotWriter> KeyedStateSnapshotWriter::create(std::ostream& out,
                                                                          std::string sinkName,
                                                                          int maxParallelism,
                                                                          KeyGroupRange range) {
  if (maxParallelism < 1 || maxParallelism > kUpperBoundMaxParallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("keyed state snapshot '", sinkName, "': max parallelism ", maxParallelism,
                     " is outside [1, ", kUpperBoundMaxParallelism, "]"));
  }
  if (range.size() == 0) {
    range.end = range.start - 1;
  }
  if (range.start < 0 || range.start > maxParallelism || range.end >= maxParallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("keyed state snapshot '", sinkName, "': key group range [", range.start, ", ",
                     range.end, "] is outside [0, ", maxParallelism, ")"));
  }
  KeyedStateSnapshotWriter writer(out, std::move(sinkName));
  writer.range_ = range;
  std::string header(kHeaderMagic);
  appendFixed32(&header, kFormatVersion);
  appendFixed32(&header, static_cast<uint32_t>(maxParallelism));
  appendFixed32(&header, static_cast<uint32_t>(range.start));
  appendFixed32(&header, static_cast<uint32_t>(range.end + 1));
  appendFixed32(&header, crc32c(header));
  BROOK_RETURN_IF_ERROR(writer.writeToStream(header));
  return writer;
}

absl::Status KeyedStateSnapshotWriter::fail(absl::Status status) {
  status_ = status;
  return status;
}

absl::Status KeyedStateSnapshotWriter::checkWritable() const {
  if (!status_.ok()) {
    return status_;
  }
  if (finished_) {
    return absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': written after finish()"));
  }
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::writeToStream(std::string_view bytes) {
  out_->write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_->good()) {
    return fail(
        absl::UnavailableError(absl::StrCat("writing keyed state snapshot '", sinkName_,
                                            "': the stream failed after ", offset_, " bytes")));
  }
  offset_ += bytes.size();
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::beginKeyGroup(int keyGroup) {
  BROOK_RETURN_IF_ERROR(checkWritable());
  if (!range_.contains(keyGroup)) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "keyed state snapshot '", sinkName_, "': key group ", keyGroup, " is outside the range [",
        range_.start, ", ", range_.end, "] of the snapshot")));
  }
  if (keyGroup <= keyGroup_) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': key group ", keyGroup,
                     " begun after key group ", keyGroup_, " (they must ascend)")));
  }
  BROOK_RETURN_IF_ERROR(closeSection());
  keyGroup_ = keyGroup;
  statesBegun_.clear();
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::beginState(std::string_view name, StateKind kind) {
  BROOK_RETURN_IF_ERROR(checkWritable());
  if (keyGroup_ < 0) {
    return fail(absl::FailedPreconditionError(absl::StrCat("keyed state snapshot '", sinkName_,
                                                           "': state '", toAbsl(name),
                                                           "' begun before any key group")));
  }
  if (!isValidKind(static_cast<uint8_t>(kind))) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': state '", toAbsl(name),
                     "' has invalid kind ", static_cast<int>(kind))));
  }
  if (statesBegun_.find(name) != statesBegun_.end()) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': state '", toAbsl(name),
                     "' begun twice in key group ", keyGroup_)));
  }
  BROOK_RETURN_IF_ERROR(closeState());
  statesBegun_.emplace(name);
  stateBegun_ = true;
  stateName_ = std::string(name);
  stateKind_ = kind;
  entriesInState_ = 0;
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::checkEntry(StateKind kind) {
  BROOK_RETURN_IF_ERROR(checkWritable());
  if (!stateBegun_) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': a ", toAbsl(stateKindName(kind)),
                     " entry written before beginState() in key group ", keyGroup_)));
  }
  if (kind != stateKind_) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': a ", toAbsl(stateKindName(kind)),
                     " entry written to ", toAbsl(stateKindName(stateKind_)), " state '",
                     stateName_, "' in key group ", keyGroup_)));
  }
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::openStateIfPending() {
  if (!sectionOpen_) {
    // Every section starts on a block boundary, so that the index can point at it.
    sectionOffset_ = offset_;
    statesInSection_ = 0;
    block_.push_back(static_cast<char>(kSectionStart));
    appendVarint64(&block_, static_cast<uint64_t>(keyGroup_));
    sectionOpen_ = true;
  }
  if (!stateOpen_) {
    block_.push_back(static_cast<char>(kStateStart));
    appendLengthPrefixed(&block_, stateName_);
    block_.push_back(static_cast<char>(stateKind_));
    stateOpen_ = true;
    ++statesInSection_;
  }
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::endRecord() {
  if (block_.size() >= kTargetBlockBytes) {
    return flushBlock();
  }
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::writeValue(std::string_view key,
                                                  std::string_view stateNamespace,
                                                  std::string_view value) {
  BROOK_RETURN_IF_ERROR(checkEntry(StateKind::kValue));
  BROOK_RETURN_IF_ERROR(openStateIfPending());
  block_.push_back(static_cast<char>(kValueEntry));
  appendLengthPrefixed(&block_, key);
  appendLengthPrefixed(&block_, stateNamespace);
  appendLengthPrefixed(&block_, value);
  ++entriesInState_;
  return endRecord();
}

absl::Status KeyedStateSnapshotWriter::writeList(std::string_view key,
                                                 std::string_view stateNamespace,
                                                 std::span<const std::string_view> elements) {
  BROOK_RETURN_IF_ERROR(checkEntry(StateKind::kList));
  if (elements.empty()) {
    return absl::OkStatus();
  }
  BROOK_RETURN_IF_ERROR(openStateIfPending());
  appendListRecord(&block_, key, stateNamespace, elements);
  ++entriesInState_;
  return endRecord();
}

absl::Status KeyedStateSnapshotWriter::writeList(std::string_view key,
                                                 std::string_view stateNamespace,
                                                 std::span<const std::string> elements) {
  BROOK_RETURN_IF_ERROR(checkEntry(StateKind::kList));
  if (elements.empty()) {
    return absl::OkStatus();
  }
  BROOK_RETURN_IF_ERROR(openStateIfPending());
  appendListRecord(&block_, key, stateNamespace, elements);
  ++entriesInState_;
  return endRecord();
}

absl::Status KeyedStateSnapshotWriter::writeMapEntry(std::string_view key,
                                                     std::string_view stateNamespace,
                                                     std::string_view userKey,
                                                     std::string_view userValue) {
  BROOK_RETURN_IF_ERROR(checkEntry(StateKind::kMap));
  BROOK_RETURN_IF_ERROR(openStateIfPending());
  block_.push_back(static_cast<char>(kMapEntry));
  appendLengthPrefixed(&block_, key);
  appendLengthPrefixed(&block_, stateNamespace);
  appendLengthPrefixed(&block_, userKey);
  appendLengthPrefixed(&block_, userValue);
  ++entriesInState_;
  return endRecord();
}

absl::Status KeyedStateSnapshotWriter::closeState() {
  if (stateOpen_) {
    block_.push_back(static_cast<char>(kStateEnd));
    appendVarint64(&block_, entriesInState_);
    stateOpen_ = false;
    BROOK_RETURN_IF_ERROR(endRecord());
  }
  stateBegun_ = false;
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::closeSection() {
  BROOK_RETURN_IF_ERROR(closeState());
  if (!sectionOpen_) {
    return absl::OkStatus();
  }
  block_.push_back(static_cast<char>(kSectionEnd));
  appendVarint64(&block_, statesInSection_);
  BROOK_RETURN_IF_ERROR(flushBlock());
  index_.push_back(IndexEntry{keyGroup_, sectionOffset_, offset_ - sectionOffset_});
  sectionOpen_ = false;
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::flushBlock() {
  if (block_.empty()) {
    return absl::OkStatus();
  }
  if (block_.size() > std::numeric_limits<uint32_t>::max()) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("keyed state snapshot '", sinkName_, "': an entry of state '", stateName_,
                     "' in key group ", keyGroup_, " is larger than 4 GiB")));
  }
  std::string header;
  appendFixed32(&header, static_cast<uint32_t>(block_.size()));
  appendFixed32(&header, crc32cExtend(crc32c(header), block_));
  BROOK_RETURN_IF_ERROR(writeToStream(header));
  BROOK_RETURN_IF_ERROR(writeToStream(block_));
  block_.clear();
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotWriter::finish() {
  BROOK_RETURN_IF_ERROR(checkWritable());
  BROOK_RETURN_IF_ERROR(closeSection());
  std::string index;
  appendVarint64(&index, index_.size());
  for (const IndexEntry& e : index_) {
    appendVarint64(&index, static_cast<uint64_t>(e.keyGroup));
    appendVarint64(&index, e.offset);
    appendVarint64(&index, e.length);
  }
  std::string footer;
  appendFixed64(&footer, offset_);
  appendFixed32(&footer, static_cast<uint32_t>(index.size()));
  appendFixed32(&footer, crc32c(index));
  footer.append(kFooterMagic);
  BROOK_RETURN_IF_ERROR(writeToStream(index));
  BROOK_RETURN_IF_ERROR(writeToStream(footer));
  out_->flush();
  if (!out_->good()) {
    return fail(absl::UnavailableError(absl::StrCat("writing keyed state snapshot '", sinkName_,
                                                    "': flushing the stream failed")));
  }
  finished_ = true;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// KeyedStateSnapshotReader

KeyedStateSnapshotReader::KeyedStateSnapshotReader(std::istream& in,
                                                   std::string sourceName,
                                                   uint64_t base)
    : in_(&in), sourceName_(std::move(sourceName)), base_(base) {}

absl::StatusOr<KeyedStateSnapshotReader> KeyedStateSnapshotReader::open(std::istream& in,
                                                                        std::string sourceName) {
  std::streampos start = in.tellg();
  if (start == std::streampos(-1)) {
    return absl::DataLossError(absl::StrCat("keyed state snapshot '", sourceName,
                                            "': the stream is not readable and seekable"));
  }
  in.seekg(0, std::ios::end);
  std::streampos end = in.tellg();
  if (end == std::streampos(-1) || end < start) {
    return absl::DataLossError(absl::StrCat("keyed state snapshot '", sourceName,
                                            "': cannot seek to the end of the stream"));
  }
  KeyedStateSnapshotReader reader(in, std::move(sourceName), static_cast<uint64_t>(start));
  reader.size_ = static_cast<uint64_t>(end - start);
  BROOK_RETURN_IF_ERROR(reader.readHeaderAndIndex());
  return reader;
}

absl::Status KeyedStateSnapshotReader::corrupt(std::string_view what) const {
  std::string context;
  if (inSection_) {
    absl::StrAppend(&context, ", key group ", index_[section_].keyGroup);
    if (inState_) {
      absl::StrAppend(&context, ", state '", stateName_, "'");
    }
  }
  std::string where;
  if (inSection_ && !block_.empty()) {
    where = absl::StrCat(" (block at offset ", blockOffset_, ")");
  }
  return absl::DataLossError(
      absl::StrCat("keyed state snapshot '", sourceName_, "'", context, ": ", toAbsl(what), where));
}

absl::Status KeyedStateSnapshotReader::readAt(uint64_t offset,
                                              uint64_t length,
                                              std::string* out,
                                              std::string_view what) {
  // Callers check bounds against size_, so a corrupt length never allocates more than that.
  if (offset > size_ || length > size_ - offset) {
    return corrupt(absl::StrCat(toAbsl(what), " at offset ", offset, " with ", length,
                                " bytes lies beyond the end (", size_, " bytes)"));
  }
  in_->clear();
  in_->seekg(static_cast<std::streamoff>(base_ + offset));
  out->resize(length);
  in_->read(out->data(), static_cast<std::streamsize>(length));
  if (!*in_ || static_cast<uint64_t>(in_->gcount()) != length) {
    return corrupt(
        absl::StrCat("cannot read ", toAbsl(what), " at offset ", offset, " (", length, " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotReader::readHeaderAndIndex() {
  if (size_ < kHeaderSize + kFooterSize) {
    return corrupt(absl::StrCat("truncated: ", size_, " bytes is too short for a snapshot"));
  }
  std::string header;
  BROOK_RETURN_IF_ERROR(readAt(0, kHeaderSize, &header, "the header"));
  if (std::string_view(header).substr(0, kHeaderMagic.size()) != kHeaderMagic) {
    return corrupt("not a keyed state snapshot (bad magic number)");
  }
  ByteReader r(std::string_view(header).substr(kHeaderMagic.size()));
  uint32_t version = 0;
  uint32_t maxParallelism = 0;
  uint32_t start = 0;
  uint32_t endPlusOne = 0;
  uint32_t crc = 0;
  r.readFixed32(&version);
  r.readFixed32(&maxParallelism);
  r.readFixed32(&start);
  r.readFixed32(&endPlusOne);
  r.readFixed32(&crc);
  if (crc != crc32c(std::string_view(header).substr(0, kHeaderSize - 4))) {
    return corrupt("header checksum mismatch");
  }
  if (version != kFormatVersion) {
    return corrupt(absl::StrCat("unsupported format version ", version, " (this build reads ",
                                kFormatVersion, ")"));
  }
  if (maxParallelism < 1 || maxParallelism > static_cast<uint32_t>(kUpperBoundMaxParallelism) ||
      start > endPlusOne || endPlusOne > maxParallelism) {
    return corrupt(absl::StrCat("invalid header: max parallelism ", maxParallelism,
                                ", key groups [", start, ", ", endPlusOne, ")"));
  }
  maxParallelism_ = static_cast<int>(maxParallelism);
  range_ = KeyGroupRange{static_cast<int>(start), static_cast<int>(endPlusOne) - 1};

  std::string footer;
  BROOK_RETURN_IF_ERROR(readAt(size_ - kFooterSize, kFooterSize, &footer, "the footer"));
  if (std::string_view(footer).substr(16) != kFooterMagic) {
    return corrupt("bad footer magic number (truncated or not a snapshot)");
  }
  ByteReader f(footer);
  uint64_t indexOffset = 0;
  uint32_t indexLength = 0;
  uint32_t indexCrc = 0;
  f.readFixed64(&indexOffset);
  f.readFixed32(&indexLength);
  f.readFixed32(&indexCrc);
  const uint64_t indexEnd = size_ - kFooterSize;
  if (indexOffset < kHeaderSize || indexOffset > indexEnd ||
      indexEnd - indexOffset != indexLength) {
    return corrupt(absl::StrCat("the footer places the index at offset ", indexOffset, " with ",
                                indexLength, " bytes, but it must end at offset ", indexEnd));
  }
  std::string index;
  BROOK_RETURN_IF_ERROR(readAt(indexOffset, indexLength, &index, "the index"));
  if (crc32c(index) != indexCrc) {
    return corrupt("index checksum mismatch");
  }
  ByteReader ir(index);
  uint64_t count = 0;
  // Each index entry takes at least three bytes, which bounds what a corrupt count reserves.
  if (!ir.readVarint64(&count) || count > ir.remaining().size() / 3) {
    return corrupt("invalid index entry count");
  }
  index_.reserve(count);
  uint64_t expectedOffset = kHeaderSize;
  int64_t previousKeyGroup = -1;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t keyGroup = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    if (!ir.readVarint64(&keyGroup) || !ir.readVarint64(&offset) || !ir.readVarint64(&length)) {
      return corrupt(absl::StrCat("index entry ", i, " is truncated"));
    }
    if (keyGroup >= static_cast<uint64_t>(maxParallelism_) ||
        static_cast<int64_t>(keyGroup) <= previousKeyGroup ||
        !range_.contains(static_cast<int>(keyGroup))) {
      return corrupt(absl::StrCat("index entry ", i, " names key group ", keyGroup,
                                  ", which is out of order or outside the snapshot's range [",
                                  range_.start, ", ", range_.end, "]"));
    }
    if (offset != expectedOffset || length <= kBlockHeaderSize || length > indexOffset - offset) {
      return corrupt(absl::StrCat("index entry for key group ", keyGroup, " places it at offset ",
                                  offset, " with ", length, " bytes; expected offset ",
                                  expectedOffset, " and an end before offset ", indexOffset));
    }
    index_.push_back(IndexEntry{static_cast<int>(keyGroup), offset, length});
    previousKeyGroup = static_cast<int64_t>(keyGroup);
    expectedOffset = offset + length;
  }
  if (!ir.empty() || expectedOffset != indexOffset) {
    return corrupt(
        absl::StrCat("the index does not account for every byte: its sections end at "
                     "offset ",
                     expectedOffset, ", the index starts at ", indexOffset));
  }
  nextSection_ = 0;
  endSection_ = index_.size();
  return absl::OkStatus();
}

std::vector<int> KeyedStateSnapshotReader::keyGroupsWithEntries() const {
  std::vector<int> groups;
  groups.reserve(index_.size());
  for (const IndexEntry& e : index_) {
    groups.push_back(e.keyGroup);
  }
  return groups;
}

void KeyedStateSnapshotReader::seek(KeyGroupRange range) {
  auto byKeyGroup = [](const IndexEntry& e, int keyGroup) {
    return e.keyGroup < keyGroup;
  };
  auto first = std::lower_bound(index_.begin(), index_.end(), range.start, byKeyGroup);
  auto last = std::lower_bound(index_.begin(), index_.end(), range.end + 1, byKeyGroup);
  nextSection_ = static_cast<size_t>(first - index_.begin());
  endSection_ = std::max(nextSection_, static_cast<size_t>(last - index_.begin()));
  inSection_ = false;
  inState_ = false;
  block_.clear();
  blockPosition_ = 0;
}

absl::Status KeyedStateSnapshotReader::startSection() {
  section_ = nextSection_++;
  inSection_ = true;
  sectionStarted_ = false;
  inState_ = false;
  statesInSection_ = 0;
  statesInSectionNames_.clear();
  nextBlockOffset_ = index_[section_].offset;
  sectionEnd_ = index_[section_].offset + index_[section_].length;
  block_.clear();
  blockPosition_ = 0;
  return absl::OkStatus();
}

absl::Status KeyedStateSnapshotReader::loadBlock() {
  blockOffset_ = nextBlockOffset_;
  block_.clear();
  blockPosition_ = 0;
  if (sectionEnd_ - nextBlockOffset_ < kBlockHeaderSize) {
    return corrupt(absl::StrCat("truncated block header at offset ", nextBlockOffset_));
  }
  std::string header;
  BROOK_RETURN_IF_ERROR(readAt(nextBlockOffset_, kBlockHeaderSize, &header, "a block header"));
  ByteReader r(header);
  uint32_t length = 0;
  uint32_t crc = 0;
  r.readFixed32(&length);
  r.readFixed32(&crc);
  const uint64_t available = sectionEnd_ - nextBlockOffset_ - kBlockHeaderSize;
  if (length == 0 || length > available) {
    return corrupt(absl::StrCat("block at offset ", nextBlockOffset_, " claims ", length,
                                " bytes but its section has ", available, " left"));
  }
  BROOK_RETURN_IF_ERROR(readAt(nextBlockOffset_ + kBlockHeaderSize, length, &block_, "a block"));
  if (crc32cExtend(crc32c(std::string_view(header).substr(0, 4)), block_) != crc) {
    block_.clear();
    return corrupt(absl::StrCat("block checksum mismatch at offset ", nextBlockOffset_));
  }
  nextBlockOffset_ += kBlockHeaderSize + length;
  return absl::OkStatus();
}

absl::StatusOr<bool> KeyedStateSnapshotReader::next(KeyedStateEntry* entry) {
  while (true) {
    if (!inSection_) {
      if (nextSection_ >= endSection_) {
        return false;
      }
      BROOK_RETURN_IF_ERROR(startSection());
    }
    if (blockPosition_ >= block_.size()) {
      if (nextBlockOffset_ >= sectionEnd_) {
        return corrupt("the section ends without a section end record");
      }
      BROOK_RETURN_IF_ERROR(loadBlock());
    }
    ByteReader r(std::string_view(block_).substr(blockPosition_));
    uint8_t type = 0;
    r.readByte(&type);
    if (type != kSectionStart && !sectionStarted_) {
      return corrupt("the section does not begin with a section start record");
    }
    switch (type) {
      case kSectionStart: {
        uint64_t keyGroup = 0;
        if (sectionStarted_) {
          return corrupt("a second section start record");
        }
        if (!r.readVarint64(&keyGroup)) {
          return corrupt("truncated section start record");
        }
        if (keyGroup != static_cast<uint64_t>(index_[section_].keyGroup)) {
          return corrupt(absl::StrCat("the section start names key group ", keyGroup,
                                      " but the index places key group ", index_[section_].keyGroup,
                                      " here"));
        }
        sectionStarted_ = true;
        break;
      }
      case kStateStart: {
        if (inState_) {
          return corrupt("a state starts before the previous one ended");
        }
        std::string_view name;
        uint8_t kind = 0;
        if (!r.readLengthPrefixed(&name) || !r.readByte(&kind)) {
          return corrupt("truncated state start record");
        }
        if (!isValidKind(kind)) {
          return corrupt(
              absl::StrCat("state '", toAbsl(name), "' has unknown kind ", static_cast<int>(kind)));
        }
        if (!statesInSectionNames_.emplace(name).second) {
          return corrupt(absl::StrCat("state '", toAbsl(name), "' appears twice"));
        }
        stateName_ = std::string(name);
        stateKind_ = static_cast<StateKind>(kind);
        inState_ = true;
        entriesInState_ = 0;
        ++statesInSection_;
        break;
      }
      case kValueEntry:
      case kListEntry:
      case kMapEntry: {
        const StateKind kind = type == kValueEntry  ? StateKind::kValue
                               : type == kListEntry ? StateKind::kList
                                                    : StateKind::kMap;
        if (!inState_) {
          return corrupt(absl::StrCat("a ", toAbsl(stateKindName(kind)), " entry outside a state"));
        }
        if (kind != stateKind_) {
          return corrupt(absl::StrCat("a ", toAbsl(stateKindName(kind)), " entry in ",
                                      toAbsl(stateKindName(stateKind_)), " state"));
        }
        entry->keyGroup = index_[section_].keyGroup;
        entry->stateName = stateName_;
        entry->kind = kind;
        entry->value = {};
        entry->userKey = {};
        entry->elements.clear();
        bool ok = r.readLengthPrefixed(&entry->key) && r.readLengthPrefixed(&entry->stateNamespace);
        if (ok && kind == StateKind::kValue) {
          ok = r.readLengthPrefixed(&entry->value);
        } else if (ok && kind == StateKind::kMap) {
          ok = r.readLengthPrefixed(&entry->userKey) && r.readLengthPrefixed(&entry->value);
        } else if (ok) {
          uint64_t count = 0;
          // Each element takes at least one byte, which bounds what a corrupt count reserves.
          ok = r.readVarint64(&count) && count <= r.remaining().size();
          if (ok && count == 0) {
            return corrupt(absl::StrCat("list entry ", entriesInState_, " has no elements"));
          }
          for (uint64_t i = 0; ok && i < count; ++i) {
            std::string_view element;
            ok = r.readLengthPrefixed(&element);
            entry->elements.push_back(element);
          }
        }
        if (!ok) {
          return corrupt(
              absl::StrCat("truncated ", toAbsl(stateKindName(kind)), " entry ", entriesInState_));
        }
        ++entriesInState_;
        blockPosition_ += r.position();
        return true;
      }
      case kStateEnd: {
        uint64_t count = 0;
        if (!inState_) {
          return corrupt("a state end record outside a state");
        }
        if (!r.readVarint64(&count)) {
          return corrupt("truncated state end record");
        }
        if (count != entriesInState_) {
          return corrupt(absl::StrCat("the state ends after ", entriesInState_,
                                      " entries but records ", count));
        }
        inState_ = false;
        break;
      }
      case kSectionEnd: {
        uint64_t count = 0;
        if (inState_) {
          return corrupt("the section ends inside a state");
        }
        if (!r.readVarint64(&count)) {
          return corrupt("truncated section end record");
        }
        if (count != statesInSection_) {
          return corrupt(absl::StrCat("the section ends after ", statesInSection_,
                                      " states but records ", count));
        }
        if (!r.empty() || nextBlockOffset_ != sectionEnd_) {
          return corrupt("the section end record is not at the end of the section");
        }
        inSection_ = false;
        block_.clear();
        blockPosition_ = 0;
        continue;
      }
      default:
        return corrupt(absl::StrCat("unknown record type ", static_cast<int>(type)));
    }
    blockPosition_ += r.position();
  }
}

}  // namespace brook::state
