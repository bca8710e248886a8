#include "checkpoint/channel_state.h"

#include <cstdint>
#include <cstring>

#include <absl/strings/str_cat.h>

namespace brook::checkpoint {
namespace {

constexpr char kMagic[4] = {'B', 'R', 'K', 'C'};
constexpr uint32_t kVersion = 1;

template <typename T>
void append(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void appendChannels(std::string& out, const std::vector<ChannelStateSnapshot::Channel>& channels) {
  append(out, static_cast<uint32_t>(channels.size()));
  for (const auto& c : channels) {
    append(out, static_cast<uint32_t>(c.gate));
    append(out, static_cast<uint32_t>(c.channel));
    append(out, static_cast<uint64_t>(c.bytes.size()));
    out.append(c.bytes);
  }
}

class Reader {
 public:
  Reader(std::string_view bytes, std::string_view source) : bytes_(bytes), source_(source) {}

  template <typename T>
  absl::StatusOr<T> read(std::string_view what) {
    if (bytes_.size() < sizeof(T))
      return truncated(what);
    T value;
    std::memcpy(&value, bytes_.data(), sizeof(T));
    bytes_.remove_prefix(sizeof(T));
    return value;
  }

  absl::StatusOr<std::string_view> take(uint64_t n, std::string_view what) {
    if (bytes_.size() < n)
      return truncated(what);
    std::string_view out = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return out;
  }

  absl::Status error(std::string_view message) const {
    return absl::DataLossError(
        absl::StrCat("channel state file ", std::string(source_), ": ", std::string(message)));
  }

  bool done() const { return bytes_.empty(); }

 private:
  absl::Status truncated(std::string_view what) const {
    return error(absl::StrCat("truncated in ", std::string(what)));
  }

  std::string_view bytes_;
  std::string_view source_;
};

absl::Status readChannels(Reader& in,
                          std::string_view kind,
                          std::vector<ChannelStateSnapshot::Channel>& out) {
  absl::StatusOr<uint32_t> count =
      in.read<uint32_t>(absl::StrCat("the number of ", std::string(kind)));
  if (!count.ok())
    return count.status();
  for (uint32_t i = 0; i < *count; ++i) {
    const std::string what = absl::StrCat(std::string(kind), " ", i);
    absl::StatusOr<uint32_t> gate = in.read<uint32_t>(what);
    if (!gate.ok())
      return gate.status();
    absl::StatusOr<uint32_t> channel = in.read<uint32_t>(what);
    if (!channel.ok())
      return channel.status();
    absl::StatusOr<uint64_t> length = in.read<uint64_t>(what);
    if (!length.ok())
      return length.status();
    if (*gate > INT32_MAX || *channel > INT32_MAX)
      return in.error(absl::StrCat(what, " has an out-of-range gate or channel"));
    absl::StatusOr<std::string_view> bytes = in.take(*length, what);
    if (!bytes.ok())
      return bytes.status();
    out.push_back({static_cast<int>(*gate), static_cast<int>(*channel), std::string(*bytes)});
  }
  return absl::OkStatus();
}

}  // namespace

std::string encodeChannelState(const ChannelStateSnapshot& snapshot) {
  std::string out(kMagic, sizeof(kMagic));
  append(out, kVersion);
  appendChannels(out, snapshot.inputs);
  appendChannels(out, snapshot.outputs);
  return out;
}

absl::StatusOr<ChannelStateSnapshot> decodeChannelState(std::string_view bytes,
                                                        std::string_view source) {
  Reader in(bytes, source);
  absl::StatusOr<std::string_view> magic = in.take(sizeof(kMagic), "the header");
  if (!magic.ok())
    return magic.status();
  if (std::memcmp(magic->data(), kMagic, sizeof(kMagic)) != 0)
    return in.error("not a channel state file (bad magic)");
  absl::StatusOr<uint32_t> version = in.read<uint32_t>("the header");
  if (!version.ok())
    return version.status();
  if (*version != kVersion) {
    return in.error(absl::StrCat("format version ", *version, ", this version reads ", kVersion));
  }
  ChannelStateSnapshot snapshot;
  if (absl::Status s = readChannels(in, "input channel", snapshot.inputs); !s.ok())
    return s;
  if (absl::Status s = readChannels(in, "output channel", snapshot.outputs); !s.ok())
    return s;
  if (!in.done())
    return in.error("trailing bytes after the last channel");
  return snapshot;
}

}  // namespace brook::checkpoint
