#include "checkpoint/checkpoint_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include <absl/strings/str_cat.h>

#include "brook/checkpoint.pb.h"
#include "checkpoint/checkpoint_metadata_proto.h"
#include "common/status_macros.h"
#include "state/internal/crc32c.h"

namespace brook::checkpoint {
namespace {

namespace fs = std::filesystem;
using state::internal::crc32c;

constexpr char kMagic[] = "BRKCHKMD";
constexpr size_t kMagicSize = 8;
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = kMagicSize + 4 + 8 + 4;
/// Metadata larger than this is refused as damaged rather than allocated.
constexpr uint64_t kMaxPayload = uint64_t{1} << 30;

template <typename U>
void putLittleEndian(std::string& out, U value) {
  for (size_t i = 0; i < sizeof(U); ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
template <typename U>
U getLittleEndian(std::string_view bytes, size_t offset) {
  U value = 0;
  for (size_t i = 0; i < sizeof(U); ++i)
    value |= static_cast<U>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

absl::Status errnoError(std::string_view what, const fs::path& path) {
  return absl::InternalError(
      absl::StrCat(std::string(what), " ", path.string(), ": ", std::strerror(errno)));
}

void toProto(const StateFile& f, v1::StateFile* out) {
  out->set_path(f.path);
  out->set_size(f.size);
  out->set_crc32c(f.crc32c);
}
StateFile fromProto(const v1::StateFile& f) {
  return StateFile{f.path(), f.size(), f.crc32c()};
}
template <typename Repeated>
std::vector<StateFile> filesFrom(const Repeated& files) {
  std::vector<StateFile> out;
  out.reserve(static_cast<size_t>(files.size()));
  for (const v1::StateFile& f : files)
    out.push_back(fromProto(f));
  return out;
}

NativeStateFile fromProto(const v1::NativeStateFile& f) {
  return NativeStateFile{f.local_name(), f.shared(), fromProto(f.file())};
}

SubtaskStateMetadata subtaskFromProto(const v1::SubtaskStateMetadata& st) {
  SubtaskStateMetadata s;
  s.subtaskIndex = st.subtask_index();
  s.keyGroupStart = st.key_group_start();
  s.keyGroupEnd = st.key_group_end();
  s.keyedState = filesFrom(st.keyed_state());
  s.operatorState = filesFrom(st.operator_state());
  s.channelState = filesFrom(st.channel_state());
  for (const v1::NativeStateFile& f : st.native_keyed_state())
    s.nativeKeyedState.push_back(fromProto(f));
  return s;
}

/// A state file path must stay inside its checkpoint: relative, without "..".
bool isContainedPath(const std::string& path) {
  if (path.empty() || path.front() == '/')
    return false;
  for (const auto& part : fs::path(path)) {
    if (part == "..")
      return false;
  }
  return true;
}

/// A RocksDB file name of a native snapshot: a plain name, no folders.
bool isPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

/// Why the native files of `s` are not well formed, or empty. Placeholders (shared files without
/// a path) are allowed only in acknowledgements.
std::string nativeFileProblem(const SubtaskStateMetadata& s, bool allowPlaceholders) {
  for (const NativeStateFile& f : s.nativeKeyedState) {
    if (!isPlainFileName(f.localName))
      return absl::StrCat("native state file name '", f.localName, "' is not a plain file name");
    if (f.file.path.empty() && f.shared && allowPlaceholders)
      continue;
    if (!isContainedPath(f.file.path)) {
      return absl::StrCat("state file path '", f.file.path, "' leaves the ",
                          f.shared ? "shared directory" : "checkpoint");
    }
  }
  return {};
}

absl::StatusOr<std::string> readWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  return bytes;
}

std::string checkpointDirectoryName(int64_t id) { return absl::StrCat("chk-", id); }

/// The id of a "chk-<n>" directory name, or -1.
int64_t checkpointIdOf(const std::string& name) {
  if (!name.starts_with("chk-") || name.size() == 4)
    return -1;
  int64_t id = -1;
  const char* begin = name.data() + 4;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(begin, end, id);
  return ec == std::errc() && ptr == end && id >= 0 ? id : -1;
}

/// The ids of every chk-<n> directory, complete or not, ascending.
std::vector<int64_t> checkpointIds(const fs::path& jobDirectory, bool completedOnly) {
  std::vector<int64_t> ids;
  std::error_code error;
  for (fs::directory_iterator it(jobDirectory, error), end; !error && it != end;
       it.increment(error)) {
    int64_t id = checkpointIdOf(it->path().filename().string());
    if (id < 0 || !it->is_directory(error))
      continue;
    if (completedOnly && !fs::is_regular_file(it->path() / kMetadataFileName, error))
      continue;
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

std::vector<const StateFile*> CheckpointMetadata::files() const {
  std::vector<const StateFile*> out;
  for (const OperatorStateMetadata& op : operators) {
    for (const SubtaskStateMetadata& s : op.subtasks) {
      for (const auto* list : {&s.keyedState, &s.operatorState, &s.channelState}) {
        for (const StateFile& f : *list)
          out.push_back(&f);
      }
      for (const NativeStateFile& f : s.nativeKeyedState) {
        if (!f.shared)
          out.push_back(&f.file);
      }
    }
  }
  return out;
}

std::vector<const NativeStateFile*> CheckpointMetadata::sharedFiles() const {
  std::vector<const NativeStateFile*> out;
  for (const OperatorStateMetadata& op : operators) {
    for (const SubtaskStateMetadata& s : op.subtasks) {
      for (const NativeStateFile& f : s.nativeKeyedState) {
        if (f.shared)
          out.push_back(&f);
      }
    }
  }
  return out;
}

fs::path sharedDirectoryOf(const fs::path& checkpointDirectory) {
  return checkpointDirectory.parent_path() / kSharedDirectoryName;
}

absl::StatusOr<fs::path> parseCheckpointDirectoryUri(std::string_view uri) {
  std::string text(uri);
  if (text.empty())
    return absl::InvalidArgumentError("the checkpoint directory is empty");
  if (text.starts_with("file://")) {
    text = text.substr(7);
    if (!text.starts_with("/")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint directory '", std::string(uri),
          "': a file:// URI needs an absolute path (file:///path) without a host"));
    }
  } else if (text.starts_with("file:")) {
    text = text.substr(5);
  } else if (size_t colon = text.find("://"); colon != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint directory '", std::string(uri), "': the scheme '",
                     text.substr(0, colon), "' is not supported (use file:// or a path)"));
  }
  if (text.empty())
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint directory '", std::string(uri), "' names no path"));
  return fs::path(text).lexically_normal();
}

std::string encodeMetadata(const CheckpointMetadata& metadata) {
  v1::CheckpointMetadata proto;
  proto.set_job_id(metadata.jobId);
  proto.set_checkpoint_id(metadata.checkpointId);
  proto.set_timestamp_millis(metadata.timestampMillis);
  proto.set_is_savepoint(metadata.isSavepoint);
  for (const OperatorStateMetadata& op : metadata.operators) {
    v1::OperatorStateMetadata* o = proto.add_operators();
    o->set_operator_uid(op.operatorUid);
    o->set_operator_name(op.operatorName);
    o->set_parallelism(op.parallelism);
    o->set_max_parallelism(op.maxParallelism);
    for (const SubtaskStateMetadata& s : op.subtasks)
      toProto(s, o->add_subtasks());
  }
  std::string payload;
  proto.SerializeToString(&payload);
  std::string out(kMagic, kMagicSize);
  putLittleEndian<uint32_t>(out, kFormatVersion);
  putLittleEndian<uint64_t>(out, payload.size());
  putLittleEndian<uint32_t>(out, crc32c(payload));
  out += payload;
  return out;
}

void toProto(const SubtaskStateMetadata& s, v1::SubtaskStateMetadata* st) {
  st->set_subtask_index(s.subtaskIndex);
  st->set_key_group_start(s.keyGroupStart);
  st->set_key_group_end(s.keyGroupEnd);
  for (const StateFile& f : s.keyedState)
    toProto(f, st->add_keyed_state());
  for (const StateFile& f : s.operatorState)
    toProto(f, st->add_operator_state());
  for (const StateFile& f : s.channelState)
    toProto(f, st->add_channel_state());
  for (const NativeStateFile& f : s.nativeKeyedState) {
    v1::NativeStateFile* n = st->add_native_keyed_state();
    n->set_local_name(f.localName);
    n->set_shared(f.shared);
    toProto(f.file, n->mutable_file());
  }
}

absl::StatusOr<SubtaskStateMetadata> fromProto(const v1::SubtaskStateMetadata& proto) {
  SubtaskStateMetadata s = subtaskFromProto(proto);
  for (const auto* files : {&s.keyedState, &s.operatorState, &s.channelState}) {
    for (const StateFile& f : *files) {
      if (!isContainedPath(f.path)) {
        return absl::DataLossError(
            absl::StrCat("state file path '", f.path, "' leaves the checkpoint"));
      }
    }
  }
  if (std::string problem = nativeFileProblem(s, /*allowPlaceholders=*/true); !problem.empty())
    return absl::DataLossError(problem);
  return s;
}

absl::StatusOr<CheckpointMetadata> decodeMetadata(std::string_view bytes,
                                                  std::string_view source) {
  const std::string where(source);
  auto damaged = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat("checkpoint metadata ", where, ": ", what));
  };
  if (bytes.size() < kHeaderSize)
    return damaged(absl::StrCat("truncated (", bytes.size(), " bytes)"));
  if (bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize))
    return damaged("not a Brook checkpoint metadata file (bad magic number)");
  const auto version = getLittleEndian<uint32_t>(bytes, kMagicSize);
  if (version != kFormatVersion) {
    return damaged(absl::StrCat("format version ", version, " is not supported (this Brook reads ",
                                kFormatVersion, ")"));
  }
  const auto length = getLittleEndian<uint64_t>(bytes, kMagicSize + 4);
  const auto expectedCrc = getLittleEndian<uint32_t>(bytes, kMagicSize + 12);
  if (length > kMaxPayload || length != bytes.size() - kHeaderSize) {
    return damaged(absl::StrCat("the header announces ", length, " bytes of metadata but ",
                                bytes.size() - kHeaderSize, " follow"));
  }
  std::string_view payload = bytes.substr(kHeaderSize);
  if (crc32c(payload) != expectedCrc)
    return damaged("checksum mismatch");
  v1::CheckpointMetadata proto;
  if (!proto.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    return damaged("the metadata does not parse");
  CheckpointMetadata metadata;
  metadata.jobId = proto.job_id();
  metadata.checkpointId = proto.checkpoint_id();
  metadata.timestampMillis = proto.timestamp_millis();
  metadata.isSavepoint = proto.is_savepoint();
  for (const v1::OperatorStateMetadata& o : proto.operators()) {
    OperatorStateMetadata op;
    op.operatorUid = o.operator_uid();
    op.operatorName = o.operator_name();
    op.parallelism = o.parallelism();
    op.maxParallelism = o.max_parallelism();
    for (const v1::SubtaskStateMetadata& st : o.subtasks())
      op.subtasks.push_back(subtaskFromProto(st));
    metadata.operators.push_back(std::move(op));
  }
  for (const StateFile* f : metadata.files()) {
    if (!isContainedPath(f->path))
      return damaged(absl::StrCat("state file path '", f->path, "' leaves the checkpoint"));
  }
  for (const OperatorStateMetadata& op : metadata.operators) {
    for (const SubtaskStateMetadata& st : op.subtasks) {
      if (std::string problem = nativeFileProblem(st, /*allowPlaceholders=*/false);
          !problem.empty())
        return damaged(problem);
    }
  }
  if (metadata.isSavepoint && !metadata.sharedFiles().empty())
    return damaged("a savepoint names files of a job's shared directory");
  return metadata;
}

absl::StatusOr<CheckpointMetadata> readMetadata(const fs::path& path) {
  std::error_code error;
  fs::path file = fs::is_directory(path, error) ? path / kMetadataFileName : path;
  if (!fs::exists(file, error)) {
    return absl::NotFoundError(
        absl::StrCat("no checkpoint or savepoint at ", path.string(), ": ", file.string(),
                     " does not exist"));
  }
  BROOK_ASSIGN_OR_RETURN(std::string bytes, readWholeFile(file));
  return decodeMetadata(bytes, file.string());
}

namespace {

/// Reads the file at `path` in blocks, handing each to `consume`, and checks its size and
/// CRC-32C against `file`; errors are DataLoss naming the path.
absl::Status readCheckedFile(const fs::path& path,
                             const StateFile& file,
                             const std::function<absl::Status(std::string_view)>& consume) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::DataLossError(
        absl::StrCat("state file ", path.string(), " of the checkpoint is missing or unreadable"));
  }
  std::vector<char> block(size_t{1} << 20);
  int64_t size = 0;
  uint32_t crc = 0;
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::string_view bytes(block.data(), static_cast<size_t>(in.gcount()));
    if (bytes.empty())
      break;
    size += static_cast<int64_t>(bytes.size());
    crc = state::internal::crc32cExtend(crc, bytes);
    if (consume)
      BROOK_RETURN_IF_ERROR(consume(bytes));
  }
  if (in.bad())
    return absl::DataLossError(absl::StrCat("cannot read state file ", path.string()));
  if (size != file.size) {
    return absl::DataLossError(absl::StrCat("state file ", path.string(), " has ", size,
                                            " bytes, the checkpoint recorded ", file.size));
  }
  if (crc != file.crc32c) {
    return absl::DataLossError(
        absl::StrCat("state file ", path.string(), " is damaged (checksum mismatch)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> readStateFile(const fs::path& directory, const StateFile& file) {
  if (!isContainedPath(file.path)) {
    return absl::DataLossError(
        absl::StrCat("state file path '", file.path, "' leaves the checkpoint"));
  }
  std::string bytes;
  BROOK_RETURN_IF_ERROR(readCheckedFile(directory / file.path, file, [&](std::string_view block) {
    bytes.append(block);
    return absl::OkStatus();
  }));
  return bytes;
}

fs::path nativeStateFilePath(const fs::path& checkpointDirectory, const NativeStateFile& file) {
  return (file.shared ? sharedDirectoryOf(checkpointDirectory) : checkpointDirectory) /
         file.file.path;
}

absl::Status verifyStateFiles(const CheckpointMetadata& metadata, const fs::path& directory) {
  for (const StateFile* f : metadata.files()) {
    if (!isContainedPath(f->path)) {
      return absl::DataLossError(
          absl::StrCat("state file path '", f->path, "' leaves the checkpoint"));
    }
    BROOK_RETURN_IF_ERROR(readCheckedFile(directory / f->path, *f, nullptr));
  }
  for (const NativeStateFile* f : metadata.sharedFiles())
    BROOK_RETURN_IF_ERROR(readCheckedFile(nativeStateFilePath(directory, *f), f->file, nullptr));
  return absl::OkStatus();
}

absl::Status copyNativeStateFile(const fs::path& checkpointDirectory,
                                 const NativeStateFile& file,
                                 const fs::path& destination) {
  std::ofstream out(destination, std::ios::binary | std::ios::trunc);
  if (!out)
    return errnoError("cannot create", destination);
  BROOK_RETURN_IF_ERROR(
      readCheckedFile(nativeStateFilePath(checkpointDirectory, file), file.file,
                      [&](std::string_view bytes) -> absl::Status {
                        if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())))
                          return errnoError("cannot write", destination);
                        return absl::OkStatus();
                      }));
  out.close();
  if (!out)
    return errnoError("cannot write", destination);
  return absl::OkStatus();
}

absl::StatusOr<StateFile> uploadFile(const fs::path& source,
                                     const fs::path& directory,
                                     std::string_view name,
                                     const std::atomic<bool>* cancelled) {
  std::ifstream in(source, std::ios::binary);
  if (!in)
    return errnoError("cannot open", source);
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<StateFileStream> file,
                         StateFileStream::create(directory, name, cancelled));
  std::vector<char> block(size_t{1} << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    file->stream().write(block.data(), in.gcount());
    BROOK_RETURN_IF_ERROR(file->status());
  }
  if (in.bad())
    return errnoError("cannot read", source);
  return file->close();
}

namespace {

/// Makes a rename or a new file in `directory` durable.
absl::Status syncDirectory(const fs::path& path) {
  const fs::path directory = path.empty() ? fs::path(".") : path;
  int dirFd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0)
    return errnoError("cannot open directory", directory);
  int synced = ::fsync(dirFd);
  ::close(dirFd);
  return synced == 0 ? absl::OkStatus() : errnoError("cannot sync directory", directory);
}

}  // namespace

absl::Status writeFileAtomically(const fs::path& path, std::string_view bytes) {
  const fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  return writeStateFile(directory, path.filename().string(), bytes).status();
}

absl::StatusOr<StateFile> writeStateFile(const fs::path& directory, std::string_view name,
                                         std::string_view bytes) {
  BROOK_ASSIGN_OR_RETURN(std::unique_ptr<StateFileStream> file,
                         StateFileStream::create(directory, name));
  file->stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  BROOK_RETURN_IF_ERROR(file->status());
  return file->close();
}

class StateFileStream::Buffer : public std::streambuf {
 public:
  Buffer(StateFile file, fs::path path, fs::path temporary, int fd,
         const std::atomic<bool>* cancelled)
      : file_(std::move(file)),
        path_(std::move(path)),
        temporary_(std::move(temporary)),
        fd_(fd),
        cancelled_(cancelled),
        data_(kBufferSize) {
    setp(data_.data(), data_.data() + data_.size());
  }
  ~Buffer() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temporary_.c_str());
    }
  }

  const absl::Status& status() const { return status_; }

  absl::StatusOr<StateFile> close() {
    if (fd_ < 0)
      return absl::FailedPreconditionError(absl::StrCat(path_.string(), " is already closed"));
    absl::Status status = [&]() -> absl::Status {
      if (!drain())
        return status_;
      if (::fsync(fd_) != 0)
        return errnoError("cannot sync", temporary_);
      int fd = std::exchange(fd_, -1);
      if (::close(fd) != 0) {
        fd_ = fd;  // closed or not, the destructor removes the temporary file
        return errnoError("cannot close", temporary_);
      }
      if (::rename(temporary_.c_str(), path_.c_str()) != 0)
        return errnoError("cannot rename into place", path_);
      return syncDirectory(path_.parent_path());
    }();
    if (!status.ok()) {
      if (fd_ >= 0)
        ::close(std::exchange(fd_, -1));
      ::unlink(temporary_.c_str());
      return status;
    }
    return file_;
  }

 protected:
  int_type overflow(int_type c) override {
    if (!drain())
      return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  static constexpr size_t kBufferSize = size_t{1} << 20;

  /// Writes the buffered bytes to the file; false (with status_ set) on failure.
  bool drain() {
    if (!status_.ok())
      return false;
    if (cancelled_ != nullptr && cancelled_->load(std::memory_order_relaxed)) {
      status_ = absl::CancelledError(absl::StrCat("writing ", path_.string(), " was cancelled"));
      return false;
    }
    const std::string_view bytes(pbase(), static_cast<size_t>(pptr() - pbase()));
    size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        status_ = errnoError("cannot write", temporary_);
        return false;
      }
      written += static_cast<size_t>(n);
    }
    file_.size += static_cast<int64_t>(bytes.size());
    file_.crc32c = state::internal::crc32cExtend(file_.crc32c, bytes);
    setp(data_.data(), data_.data() + data_.size());
    return true;
  }

  StateFile file_;
  fs::path path_;
  fs::path temporary_;
  int fd_;
  const std::atomic<bool>* cancelled_;
  std::vector<char> data_;
  absl::Status status_;
};

absl::StatusOr<std::unique_ptr<StateFileStream>> StateFileStream::create(
    const fs::path& directory, std::string_view name, const std::atomic<bool>* cancelled) {
  StateFile file{std::string(name), 0, 0};
  if (!isContainedPath(file.path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("state file name '", file.path, "' must be a relative path inside ",
                     directory.string()));
  }
  // The checkpoint's directory is created when it is triggered and removed when it is aborted:
  // a task that writes late must not bring it back.
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return absl::NotFoundError(
        absl::StrCat("directory ", directory.string(),
                     " does not exist (a checkpoint's directory goes when it is aborted)"));
  }
  fs::path path = directory / file.path;
  fs::create_directories(path.parent_path(), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create ", path.parent_path().string(), ": ",
                                            error.message()));
  }
  fs::path temporary = path.parent_path() /
                       absl::StrCat(".", path.filename().string(), ".inprogress.", ::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errnoError("cannot create", temporary);
  return std::unique_ptr<StateFileStream>(new StateFileStream(std::make_unique<Buffer>(
      std::move(file), std::move(path), std::move(temporary), fd, cancelled)));
}

StateFileStream::StateFileStream(std::unique_ptr<Buffer> buffer)
    : buffer_(std::move(buffer)), stream_(buffer_.get()) {}

StateFileStream::~StateFileStream() = default;

absl::Status StateFileStream::status() const { return buffer_->status(); }

absl::StatusOr<StateFile> StateFileStream::close() { return buffer_->close(); }

absl::Status writeMetadata(const fs::path& directory, const CheckpointMetadata& metadata) {
  return writeFileAtomically(directory / kMetadataFileName, encodeMetadata(metadata));
}

absl::StatusOr<FileCheckpointStorage> FileCheckpointStorage::open(std::string_view uri,
                                                                  std::string_view jobId) {
  BROOK_ASSIGN_OR_RETURN(fs::path root, parseCheckpointDirectoryUri(uri));
  if (jobId.empty() || jobId.find('/') != std::string_view::npos || jobId == "." ||
      jobId == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(jobId), "' cannot name a job's checkpoint folder"));
  }
  fs::path jobDirectory = root / std::string(jobId);
  std::error_code error;
  // The shared folder of incremental checkpoints too: tasks upload into it, and never create it.
  fs::create_directories(jobDirectory / kSharedDirectoryName, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create the checkpoint directory ",
                                            jobDirectory.string(), ": ", error.message()));
  }
  return FileCheckpointStorage(std::move(jobDirectory));
}

fs::path FileCheckpointStorage::checkpointDirectory(int64_t checkpointId) const {
  return jobDirectory_ / checkpointDirectoryName(checkpointId);
}

absl::StatusOr<fs::path> FileCheckpointStorage::initializeCheckpoint(int64_t checkpointId) const {
  fs::path directory = checkpointDirectory(checkpointId);
  std::error_code error;
  if (fs::exists(directory / kMetadataFileName, error)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint ", checkpointId, " of ",
                                                 jobDirectory_.string(),
                                                 " is already complete"));
  }
  fs::create_directories(directory, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", directory.string(), ": ", error.message()));
  }
  return directory;
}

std::vector<int64_t> FileCheckpointStorage::completedCheckpointIds() const {
  return checkpointIds(jobDirectory_, /*completedOnly=*/true);
}

absl::Status FileCheckpointStorage::discardCheckpoint(int64_t checkpointId) const {
  std::error_code error;
  fs::remove_all(checkpointDirectory(checkpointId), error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot remove ",
                                            checkpointDirectory(checkpointId).string(), ": ",
                                            error.message()));
  }
  return absl::OkStatus();
}

absl::Status FileCheckpointStorage::retain(int numRetained,
                                          const std::vector<int64_t>& inProgress) const {
  std::vector<int64_t> completed = completedCheckpointIds();
  if (completed.empty())
    return absl::OkStatus();
  const int64_t newest = completed.back();
  const size_t keep = static_cast<size_t>(std::max(numRetained, 1));
  std::vector<int64_t> drop;
  if (completed.size() > keep)
    drop.assign(completed.begin(), completed.end() - static_cast<std::ptrdiff_t>(keep));
  for (int64_t id : checkpointIds(jobDirectory_, /*completedOnly=*/false)) {
    if (id < newest && !std::binary_search(completed.begin(), completed.end(), id) &&
        std::find(inProgress.begin(), inProgress.end(), id) == inProgress.end())
      drop.push_back(id);
  }
  absl::Status status = absl::OkStatus();
  for (int64_t id : drop)
    status.Update(discardCheckpoint(id));
  status.Update(discardUnreferencedSharedFiles(newest, inProgress));
  return status;
}

int64_t sharedFileUploader(std::string_view name) {
  if (!name.starts_with("chk-"))
    return -1;
  const size_t dash = name.find('-', 4);
  if (dash == std::string_view::npos)
    return -1;
  int64_t id = -1;
  auto [ptr, ec] = std::from_chars(name.data() + 4, name.data() + dash, id);
  return ec == std::errc() && ptr == name.data() + dash && id >= 0 ? id : -1;
}

absl::Status FileCheckpointStorage::discardUnreferencedSharedFiles(
    int64_t newestCompleted, const std::vector<int64_t>& inProgress) const {
  const fs::path shared = sharedDirectory();
  std::error_code error;
  if (!fs::is_directory(shared, error))
    return absl::OkStatus();
  std::set<std::string> referenced;
  for (int64_t id : completedCheckpointIds()) {
    absl::StatusOr<CheckpointMetadata> metadata = readMetadata(checkpointDirectory(id));
    if (!metadata.ok()) {
      // Its references are unknown: nothing is discarded until it is gone.
      return absl::DataLossError(
          absl::StrCat("shared files are kept: ", metadata.status().message()));
    }
    for (const NativeStateFile* f : metadata->sharedFiles())
      referenced.insert(f->file.path);
  }
  absl::Status status = absl::OkStatus();
  for (fs::directory_iterator it(shared, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    // An upload being written is ".<name>.inprogress.<pid>" (StateFileStream); one whose
    // checkpoint is neither in progress nor newer than the newest completed was abandoned (its
    // process died, or its checkpoint was aborted), and a late writer's rename then fails.
    std::string_view uploaded = name;
    const size_t temporary = uploaded.rfind(".inprogress.");
    const bool partial = uploaded.starts_with('.') && temporary != std::string_view::npos;
    if (partial)
      uploaded = uploaded.substr(1, temporary - 1);
    const int64_t uploader = sharedFileUploader(uploaded);
    // A file of a checkpoint still being written, or of one newer than every completed
    // checkpoint, may yet be referenced; unknown files are left alone.
    if (uploader < 0 || uploader > newestCompleted || (!partial && referenced.count(name) != 0) ||
        std::find(inProgress.begin(), inProgress.end(), uploader) != inProgress.end())
      continue;
    std::error_code removeError;
    fs::remove(it->path(), removeError);
    if (removeError) {
      status.Update(absl::UnavailableError(
          absl::StrCat("cannot remove ", it->path().string(), ": ", removeError.message())));
    }
  }
  return status;
}

absl::StatusOr<FileCheckpointStorage::Restorable> FileCheckpointStorage::latestRestorable(
    std::vector<std::string>* warnings) const {
  std::vector<int64_t> completed = completedCheckpointIds();
  if (completed.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no completed checkpoint in ", jobDirectory_.string()));
  }
  std::string problems;
  for (auto it = completed.rbegin(); it != completed.rend(); ++it) {
    const fs::path directory = checkpointDirectory(*it);
    absl::Status status = absl::OkStatus();
    absl::StatusOr<CheckpointMetadata> metadata = readMetadata(directory);
    if (!metadata.ok()) {
      status = metadata.status();
    } else if (metadata->checkpointId != *it) {
      status = absl::DataLossError(absl::StrCat(directory.string(), " holds the metadata of checkpoint ",
                                                metadata->checkpointId));
    } else {
      status = verifyStateFiles(*metadata, directory);
    }
    if (status.ok())
      return Restorable{*std::move(metadata), directory};
    std::string line =
        absl::StrCat("checkpoint ", *it, " is not usable: ", status.message());
    if (warnings != nullptr)
      warnings->push_back(line);
    absl::StrAppend(&problems, problems.empty() ? "" : "; ", line);
  }
  return absl::DataLossError(
      absl::StrCat("no usable checkpoint in ", jobDirectory_.string(), ": ", problems));
}

}  // namespace brook::checkpoint
