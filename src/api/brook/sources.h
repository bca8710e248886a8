#pragma once

/// Built-in sources: collections, number sequences, text files and sockets.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <brook/operator.h>

namespace brook {

/// Emits the elements of a shared, immutable collection (non-parallel).
template <typename T>
class CollectionSourceReader final : public SourceReader<T> {
 public:
  explicit CollectionSourceReader(std::shared_ptr<const std::vector<T>> elements)
      : elements_(std::move(elements)) {}
  InputStatus pollNext(SourceOutput<T>& output) override {
    size_t end = std::min(elements_->size(), next_ + kBatch);
    for (; next_ < end; ++next_)
      output.collect((*elements_)[next_]);
    return next_ < elements_->size() ? InputStatus::kMoreAvailable : InputStatus::kEndOfInput;
  }

 private:
  static constexpr size_t kBatch = 1024;
  std::shared_ptr<const std::vector<T>> elements_;
  size_t next_ = 0;
};

/// Emits the numbers [from, to]; subtask i of p emits the i-th contiguous share. Its checkpointed
/// position is what is left of its share: ranges [next, end), several after the parallelism
/// shrank, so that a restore at any parallelism emits every number left exactly once.
class SequenceSourceReader final : public SourceReader<int64_t> {
 public:
  SequenceSourceReader(int64_t from, int64_t to) : from_(from), to_(to) {}
  void open(const RuntimeContext& context) override;
  InputStatus pollNext(SourceOutput<int64_t>& output) override;
  std::string snapshotState(int64_t checkpointId) override;
  /// Throws SerializationError when `state` is not a position this reader wrote.
  void restoreState(std::string_view state) override;

 private:
  struct Range {
    int64_t next;
    int64_t end;  // exclusive
  };
  int64_t from_;
  int64_t to_;
  std::vector<Range> ranges_;  // what is left, emitted front to back
  size_t current_ = 0;
};

/// Reads lines of a text file or of the regular files of a directory. Files are cut into
/// splits; subtask i of p reads splits i, i+p, ... A line belongs to the split in which it
/// starts. Trailing '\r' is removed. The split size, unless given, is the total size divided
/// by the parallelism, between 64 KiB and `kMaxSplitBytes`, so that every reader has work.
class TextFileSourceReader final : public SourceReader<std::string> {
 public:
  static constexpr int64_t kMaxSplitBytes = 32 << 20;
  static constexpr int64_t kMinSplitBytes = 64 << 10;

  /// `splitBytes` 0 picks the split size from the input's size and the parallelism.
  explicit TextFileSourceReader(std::string path, int64_t splitBytes = 0);
  ~TextFileSourceReader() override;
  void open(const RuntimeContext& context) override;
  InputStatus pollNext(SourceOutput<std::string>& output) override;
  void close() override;

  /// The files under `path`, sorted; throws std::runtime_error naming a missing path.
  static std::vector<std::string> listFiles(const std::string& path);

 private:
  struct Split {
    std::string file;
    int64_t start;
    int64_t end;
  };
  bool openNextSplit();
  bool fillBuffer();

  std::string path_;
  int64_t splitBytes_;
  std::vector<Split> splits_;
  size_t nextSplit_ = 0;
  int fd_ = -1;
  int64_t position_ = 0;  // file offset of buffer_[0]
  int64_t splitEnd_ = 0;
  std::string buffer_;
  size_t bufferPos_ = 0;
  size_t bufferLen_ = 0;
  bool eof_ = false;
  std::string line_;
};

/// Reads delimiter-separated text from a TCP server until it closes the connection
/// (non-parallel, unbounded).
class SocketTextSourceReader final : public SourceReader<std::string> {
 public:
  SocketTextSourceReader(std::string host, int port, char delimiter)
      : host_(std::move(host)), port_(port), delimiter_(delimiter) {}
  ~SocketTextSourceReader() override;
  void open(const RuntimeContext& context) override;
  InputStatus pollNext(SourceOutput<std::string>& output) override;
  void close() override;

 private:
  std::string host_;
  int port_;
  char delimiter_;
  int fd_ = -1;
  std::string pending_;
  char readBuffer_[64 * 1024];
};

}  // namespace brook
