#pragma once

/// The in-flight data of one subtask in an unaligned checkpoint (Flink's channel state), as
/// bytes in the wire format of stream elements (runtime/stream_element.h):
/// - per input channel, what it had delivered and the task had not processed when the task took
///   its snapshot, and what it delivered afterwards before its barrier;
/// - per output channel, the data written before the barrier that the barrier overtook.
/// A channel's bytes may begin or end inside an element: on restore, a task reads its input
/// channels' bytes first and its producers send their output bytes first, so each channel's
/// stream continues where it stopped.
///
/// File layout (little-endian): "BRKC", u32 version (1), then the input channels and the output
/// channels, each as u32 count and per channel u32 gate (the index of the vertex's input or
/// output job edge), u32 channel (within that edge), u64 length and the bytes. Only channels
/// with data are listed.

#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

namespace brook::checkpoint {

struct ChannelStateSnapshot {
  struct Channel {
    int gate = 0;     ///< the vertex's input (or output) job edge
    int channel = 0;  ///< the upstream subtask (input) or the consumer subtask (output)
    std::string bytes;
    bool operator==(const Channel&) const = default;
  };
  std::vector<Channel> inputs;
  std::vector<Channel> outputs;

  bool empty() const { return inputs.empty() && outputs.empty(); }
  bool operator==(const ChannelStateSnapshot&) const = default;
};

std::string encodeChannelState(const ChannelStateSnapshot& snapshot);

/// Decodes a channel state file; errors name `source` and what is wrong (bad magic, another
/// version, a truncated file, trailing bytes).
absl::StatusOr<ChannelStateSnapshot> decodeChannelState(std::string_view bytes,
                                                        std::string_view source);

}  // namespace brook::checkpoint
