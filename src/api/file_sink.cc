#include "brook/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace brook::internal {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kInProgressSuffix = ".inprogress";

std::string errnoText() {
  return std::strerror(errno);
}

// The counter of `name` if it is `prefix<digits>`, else -1.
int64_t counterOf(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix)
    return -1;
  std::string_view digits = name.substr(prefix.size());
  int64_t counter = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), counter);
  if (ec != std::errc() || end != digits.data() + digits.size())
    return -1;
  return counter;
}

// Makes a rename or unlink in `directory` durable.
void syncDirectory(const std::string& directory) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("cannot open output directory '" + directory + "': " + errnoText());
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0) {
    throw std::runtime_error("cannot sync output directory '" + directory +
                             "': " + std::strerror(error));
  }
}

}  // namespace

PartFileWriter::~PartFileWriter() {
  if (fd_ >= 0)
    ::close(fd_);
}

void PartFileWriter::open(const std::string& directory, int subtaskIndex) {
  directory_ = directory;
  prefix_ = "part-" + std::to_string(subtaskIndex) + "-";
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) {
    throw std::runtime_error("cannot create output directory '" + directory + "': " + ec.message());
  }
  // Continue after every counter this subtask index used before, in any run or attempt, so
  // that no final name is ever taken twice.
  const std::string hiddenPrefix = "." + prefix_;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string_view view = name;
    int64_t counter = counterOf(view, prefix_);
    if (counter < 0 && view.size() > kInProgressSuffix.size() &&
        view.substr(view.size() - kInProgressSuffix.size()) == kInProgressSuffix) {
      counter = counterOf(view.substr(0, view.size() - kInProgressSuffix.size()), hiddenPrefix);
    }
    if (counter >= nextCounter_)
      nextCounter_ = counter + 1;
  }
  if (ec) {
    throw std::runtime_error("cannot list output directory '" + directory + "': " + ec.message());
  }
  buffer_.reserve(kFlushBytes + 4096);
}

std::string PartFileWriter::finalPath(const std::string& name) const {
  return (fs::path(directory_) / name).string();
}

std::string PartFileWriter::inProgressPath(const std::string& name) const {
  return (fs::path(directory_) / ("." + name + std::string(kInProgressSuffix))).string();
}

void PartFileWriter::begin(PartFileTransaction& txn) {
  closeFile();
  for (;;) {
    std::string name = prefix_ + std::to_string(nextCounter_++);
    // A file of that name may have appeared since `open` (another writer of the directory):
    // never take it over.
    std::error_code ec;
    if (fs::exists(finalPath(name), ec))
      continue;
    const std::string path = inProgressPath(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST)
        continue;
      throw std::runtime_error("cannot create part file '" + path + "': " + errnoText());
    }
    fd_ = fd;
    openName_ = name;
    written_ = 0;
    buffer_.clear();
    txn.name = std::move(name);
    return;
  }
}

void PartFileWriter::flush() {
  const char* data = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw std::runtime_error("cannot write part file '" + inProgressPath(openName_) +
                               "': " + errnoText());
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  written_ += static_cast<int64_t>(buffer_.size());
  buffer_.clear();
}

void PartFileWriter::preCommit(const PartFileTransaction& txn) {
  if (txn.name.empty() || fd_ < 0 || txn.name != openName_)
    return;
  flush();
  if (::fsync(fd_) != 0) {
    throw std::runtime_error("cannot sync part file '" + inProgressPath(openName_) +
                             "': " + errnoText());
  }
  closeFile();
}

void PartFileWriter::commit(const PartFileTransaction& txn) {
  if (txn.name.empty())
    return;
  const std::string from = inProgressPath(txn.name);
  const std::string to = finalPath(txn.name);
  if (::rename(from.c_str(), to.c_str()) != 0) {
    int error = errno;
    std::error_code ec;
    if (error == ENOENT && fs::exists(to, ec))
      return;  // committed before a restore
    if (error == ENOENT) {
      throw std::runtime_error("cannot commit part file '" + to + "': its pending file '" + from +
                               "' is missing");
    }
    throw std::runtime_error("cannot rename part file '" + from + "' to '" + to +
                             "': " + std::strerror(error));
  }
  syncDirectory(directory_);
}

void PartFileWriter::abort(const PartFileTransaction& txn) {
  if (txn.name.empty())
    return;
  if (txn.name == openName_)
    closeFile();
  const std::string path = inProgressPath(txn.name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error("cannot remove part file '" + path + "': " + errnoText());
}

void PartFileWriter::close() {
  closeFile();
}

void PartFileWriter::closeFile() {
  if (fd_ >= 0) {
    int rc = ::close(fd_);
    fd_ = -1;
    const std::string name = std::move(openName_);
    openName_.clear();
    written_ = 0;
    buffer_.clear();
    if (rc != 0 && errno != EINTR)
      throw std::runtime_error("cannot close part file '" + inProgressPath(name) +
                               "': " + errnoText());
  }
}

}  // namespace brook::internal
