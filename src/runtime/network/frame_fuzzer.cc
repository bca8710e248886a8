// Feeds arbitrary bytes to the frame decoder, as a peer on the network could.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/network/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brook::runtime::network;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Decodes frame after frame, as a connection does, until the bytes end or are refused.
  while (!bytes.empty()) {
    absl::StatusOr<DecodedFrame> decoded = decodeFrame(bytes, 64 * 1024);
    if (!decoded.ok() || decoded->frameSize == 0)
      break;
    const Frame& frame = decoded->frame;
    if (frame.kind == FrameKind::kPartitionRequest) {
      PartitionRequest request = parsePartitionRequest(frame.body);
      if (request.subpartitionId.empty() || request.subpartitionId.size() > kMaxSubpartitionIdBytes)
        __builtin_trap();
    } else if (frame.kind == FrameKind::kAddCredit && parseAddCredit(frame.body) == 0) {
      __builtin_trap();
    }
    if (decoded->frameSize > bytes.size())
      __builtin_trap();
    bytes.remove_prefix(decoded->frameSize);
  }
  return 0;
}
