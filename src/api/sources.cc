#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <brook/sources.h>

namespace brook {

namespace {
__extension__ typedef unsigned __int128 Uint128;

std::string errnoText() {
  return std::strerror(errno);
}
}  // namespace

void SequenceSourceReader::open(const RuntimeContext& context) {
  // A restored reader emits what its restored positions left, possibly nothing.
  if (context.restored)
    return;
  // Subtask i owns the i-th of p nearly equal contiguous shares of [from, to].
  auto count = static_cast<Uint128>(to_ - from_) + 1;
  auto p = static_cast<Uint128>(context.parallelism);
  auto i = static_cast<Uint128>(context.subtaskIndex);
  ranges_.push_back({from_ + static_cast<int64_t>(count * i / p),
                     from_ + static_cast<int64_t>(count * (i + 1) / p)});
}

InputStatus SequenceSourceReader::pollNext(SourceOutput<int64_t>& output) {
  while (current_ < ranges_.size() && ranges_[current_].next == ranges_[current_].end)
    ++current_;
  if (current_ == ranges_.size())
    return InputStatus::kEndOfInput;
  Range& r = ranges_[current_];
  // A few buffers' worth per call: a backpressured task takes its checkpoints between calls.
  const int64_t stop = std::min(r.end, r.next + 512);
  for (; r.next < stop; ++r.next)
    output.collect(int64_t{r.next});
  return InputStatus::kMoreAvailable;
}

std::string SequenceSourceReader::snapshotState(int64_t) {
  DataOutput out;
  for (size_t i = current_; i < ranges_.size(); ++i) {
    out.writeRaw<int64_t>(ranges_[i].next);
    out.writeRaw<int64_t>(ranges_[i].end);
  }
  return std::string(out.view());
}

void SequenceSourceReader::restoreState(std::string_view state) {
  DataInput in(state);
  if (state.size() % (2 * sizeof(int64_t)) != 0) {
    throw SerializationError("the restored position of the sequence source [" +
                             std::to_string(from_) + ", " + std::to_string(to_) +
                             "] is " + std::to_string(state.size()) +
                             " bytes long, not a multiple of 16");
  }
  while (in.remaining() != 0) {
    const auto next = in.readRaw<int64_t>();
    const auto end = in.readRaw<int64_t>();
    // `to_ - from_ + 1` would overflow for the widest sequences; compare the inclusive end.
    if (next < from_ || next > end || (end > to_ && end - 1 > to_)) {
      throw SerializationError("the restored position [" + std::to_string(next) + ", " +
                               std::to_string(end) + ") of the sequence source [" +
                               std::to_string(from_) + ", " + std::to_string(to_) +
                               "] does not belong to it");
    }
    ranges_.push_back({next, end});
  }
}

TextFileSourceReader::TextFileSourceReader(std::string path, int64_t splitBytes)
    : path_(std::move(path)), splitBytes_(std::max<int64_t>(0, splitBytes)) {}

TextFileSourceReader::~TextFileSourceReader() {
  close();
}

std::vector<std::string> TextFileSourceReader::listFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    throw std::runtime_error("input path '" + path + "' does not exist");
  }
  std::vector<std::string> files;
  if (fs::is_directory(status)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.' || name[0] == '_')
        continue;  // hidden, as Flink
      if (entry.is_regular_file())
        files.push_back(entry.path().string());
    }
    if (ec)
      throw std::runtime_error("cannot list input directory '" + path + "': " + ec.message());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

void TextFileSourceReader::open(const RuntimeContext& context) {
  std::vector<std::pair<std::string, int64_t>> files;
  int64_t total = 0;
  for (const auto& file : listFiles(path_)) {
    std::error_code ec;
    auto size = static_cast<int64_t>(std::filesystem::file_size(file, ec));
    if (ec) {
      throw std::runtime_error("cannot read size of '" + file + "': " + ec.message());
    }
    files.emplace_back(file, size);
    total += size;
  }
  // Every subtask computes the same splits from the same sizes.
  int64_t splitBytes = splitBytes_;
  if (splitBytes == 0) {
    splitBytes = std::clamp<int64_t>((total + context.parallelism - 1) / context.parallelism,
                                     kMinSplitBytes, kMaxSplitBytes);
  }
  std::vector<Split> all;
  for (const auto& [file, size] : files) {
    for (int64_t start = 0; start < size; start += splitBytes) {
      all.push_back({file, start, std::min(size, start + splitBytes)});
    }
  }
  for (size_t j = 0; j < all.size(); ++j) {
    if (static_cast<int>(j % static_cast<size_t>(context.parallelism)) == context.subtaskIndex) {
      splits_.push_back(all[j]);
    }
  }
  buffer_.resize(1 << 20);
}

void TextFileSourceReader::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool TextFileSourceReader::openNextSplit() {
  close();
  if (nextSplit_ >= splits_.size())
    return false;
  const Split& s = splits_[nextSplit_++];
  fd_ = ::open(s.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error("cannot open input file '" + s.file + "': " + errnoText());
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  int64_t begin = s.start;
  if (begin > 0)
    begin -= 1;  // look at the byte before: a line starting exactly here is ours
  if (::lseek(fd_, begin, SEEK_SET) < 0) {
    throw std::runtime_error("cannot seek in '" + s.file + "': " + errnoText());
  }
  position_ = begin;
  bufferPos_ = bufferLen_ = 0;
  eof_ = false;
  splitEnd_ = s.end;
  if (s.start > 0) {
    // Skip the tail of the line that started in the previous split.
    for (;;) {
      if (bufferPos_ == bufferLen_ && !fillBuffer())
        return true;
      const char* nl = static_cast<const char*>(
          std::memchr(buffer_.data() + bufferPos_, '\n', bufferLen_ - bufferPos_));
      if (nl != nullptr) {
        bufferPos_ = static_cast<size_t>(nl - buffer_.data()) + 1;
        break;
      }
      bufferPos_ = bufferLen_;
    }
  }
  return true;
}

bool TextFileSourceReader::fillBuffer() {
  if (eof_)
    return false;
  position_ += static_cast<int64_t>(bufferLen_);
  bufferPos_ = bufferLen_ = 0;
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw std::runtime_error("cannot read '" + path_ + "': " + errnoText());
    if (n == 0) {
      eof_ = true;
      return false;
    }
    bufferLen_ = static_cast<size_t>(n);
    return true;
  }
}

InputStatus TextFileSourceReader::pollNext(SourceOutput<std::string>& output) {
  if (fd_ < 0 && !openNextSplit())
    return InputStatus::kEndOfInput;
  for (int emitted = 0; emitted < 512;) {
    // A line belongs to this split if it starts before the split's end.
    int64_t lineStart = position_ + static_cast<int64_t>(bufferPos_);
    if (lineStart >= splitEnd_ || (bufferPos_ == bufferLen_ && !fillBuffer())) {
      if (!openNextSplit())
        return InputStatus::kEndOfInput;
      continue;
    }
    line_.clear();
    for (;;) {
      const char* begin = buffer_.data() + bufferPos_;
      size_t avail = bufferLen_ - bufferPos_;
      const char* nl = static_cast<const char*>(std::memchr(begin, '\n', avail));
      if (nl != nullptr) {
        line_.append(begin, nl);
        bufferPos_ += static_cast<size_t>(nl - begin) + 1;
        break;
      }
      line_.append(begin, avail);
      bufferPos_ = bufferLen_;
      if (!fillBuffer())
        break;  // last line without a newline
    }
    if (!line_.empty() && line_.back() == '\r')
      line_.pop_back();
    output.collect(std::move(line_));
    ++emitted;
  }
  return InputStatus::kMoreAvailable;
}

SocketTextSourceReader::~SocketTextSourceReader() {
  close();
}

void SocketTextSourceReader::open(const RuntimeContext&) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  std::string port = std::to_string(port_);
  int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    throw std::runtime_error("socketTextStream: cannot resolve '" + host_ +
                             "': " + gai_strerror(rc));
  }
  std::string lastError = "no address";
  for (addrinfo* a = result; a != nullptr && fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0)
      continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      if (::poll(&p, 1, 10'000) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
          err == 0) {
        fd_ = fd;
        break;
      }
      lastError = err != 0 ? std::strerror(err) : "connect timed out after 10 s";
    } else {
      lastError = errnoText();
    }
    ::close(fd);
  }
  ::freeaddrinfo(result);
  if (fd_ < 0) {
    throw std::runtime_error("socketTextStream: cannot connect to " + host_ + ":" + port + ": " +
                             lastError);
  }
}

InputStatus SocketTextSourceReader::pollNext(SourceOutput<std::string>& output) {
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, 50);
  if (ready < 0 && errno != EINTR) {
    throw std::runtime_error("socketTextStream: poll failed: " + errnoText());
  }
  if (ready <= 0)
    return InputStatus::kNothingAvailable;
  ssize_t n = ::recv(fd_, readBuffer_, sizeof(readBuffer_), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return InputStatus::kNothingAvailable;
    throw std::runtime_error("socketTextStream: read from " + host_ + ":" + std::to_string(port_) +
                             " failed: " + errnoText());
  }
  if (n == 0) {
    if (!pending_.empty())
      output.collect(std::move(pending_));
    pending_.clear();
    return InputStatus::kEndOfInput;
  }
  size_t start = 0;
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    if (readBuffer_[i] == delimiter_) {
      pending_.append(readBuffer_ + start, i - start);
      if (delimiter_ == '\n' && !pending_.empty() && pending_.back() == '\r')
        pending_.pop_back();
      output.collect(std::move(pending_));
      pending_.clear();
      start = i + 1;
    }
  }
  pending_.append(readBuffer_ + start, static_cast<size_t>(n) - start);
  return InputStatus::kMoreAvailable;
}

void SocketTextSourceReader::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

}  // namespace brook
