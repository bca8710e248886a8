#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include <brook/sinks.h>

namespace brook::internal {

void writeStdoutLines(const std::string& lines) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::fwrite(lines.data(), 1, lines.size(), stdout);
}

TextPartFileWriter::~TextPartFileWriter() {
  if (file_ != nullptr)
    std::fclose(file_);
}

void TextPartFileWriter::open(const std::string& directory, int subtaskIndex) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    throw std::runtime_error("cannot create output directory '" + directory + "': " + ec.message());
  }
  path_ = (std::filesystem::path(directory) / ("part-" + std::to_string(subtaskIndex))).string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) {
    throw std::runtime_error("cannot open output file '" + path_ + "': " + std::strerror(errno));
  }
  buffer_.reserve(kFlushBytes + 4096);
}

void TextPartFileWriter::flush() {
  if (file_ == nullptr || buffer_.empty())
    return;
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    throw std::runtime_error("cannot write output file '" + path_ + "': " + std::strerror(errno));
  }
  buffer_.clear();
}

void TextPartFileWriter::close() {
  if (file_ == nullptr)
    return;
  flush();
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) {
    throw std::runtime_error("cannot close output file '" + path_ + "': " + std::strerror(errno));
  }
}

}  // namespace brook::internal
