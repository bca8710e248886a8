#pragma once

/// The wire format of Brook's data plane. Every frame is a 16-byte header and a body:
///   u32 magic | u8 version | u8 kind | u16 flags | u32 channel id | u32 body length
/// All integers little-endian, as in stream_element.h. The flags are 0 but on BUFFER frames,
/// where they hold the sender's backlog: the buffers of the subpartition queued behind this
/// one (at most 65535), from which the receiver sizes the credit it grants (Flink's backlog).
/// Bodies by kind:
///   HELLO              channel 0; the sender's listening address ("host:port")
///   PARTITION_REQUEST  the consumer's new channel id; u32 initial credit, then the id under
///                      which the producer registered the subpartition
///   BUFFER             the receiver's channel id; the bytes of one network buffer
///   PRIORITY_BUFFER    as BUFFER (it takes a credit too), for a buffer holding one priority
///                      event (an unaligned checkpoint barrier) that the consumer reads out
///                      of band
///   ADD_CREDIT         the receiver's channel id at the producer; u32 credit (> 0)
///   CANCEL             the consumer's channel id; empty: the consumer releases the channel
///   CLOSE              channel 0; empty: the peer closes the connection in an orderly way
///   ERROR              a channel id of the receiver (0: the whole connection); a message
/// The decoder is a pure function over bytes, so that it can be fuzzed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace brook::runtime::network {

/// The bytes "BRKF" read as a little-endian u32.
inline constexpr uint32_t kFrameMagic = 0x464B5242;
/// Both ends of a connection must speak the same version: 2 added PRIORITY_BUFFER frames, 3 the
/// savepoint barrier element (runtime/stream_element.h) inside BUFFER frames.
inline constexpr uint8_t kProtocolVersion = 3;
inline constexpr size_t kFrameHeaderSize = 16;
/// The largest body of any frame but BUFFER (addresses, subpartition ids, error messages).
inline constexpr uint32_t kMaxControlBodyBytes = 64 * 1024;
/// The largest subpartition id in a PARTITION_REQUEST.
inline constexpr uint32_t kMaxSubpartitionIdBytes = 1024;

enum class FrameKind : uint8_t {
  kHello = 1,
  kPartitionRequest = 2,
  kBuffer = 3,
  kAddCredit = 4,
  kCancel = 5,
  kClose = 6,
  kError = 7,
  kPriorityBuffer = 8,
};

/// Whether frames of `kind` carry a network buffer (BUFFER, PRIORITY_BUFFER).
constexpr bool isBufferFrame(FrameKind kind) {
  return kind == FrameKind::kBuffer || kind == FrameKind::kPriorityBuffer;
}

/// Returns the protocol's name of a frame kind ("BUFFER"), or "UNKNOWN".
const char* frameKindName(FrameKind kind);

/// The decoded fixed part of a frame.
struct FrameHeader {
  FrameKind kind = FrameKind::kClose;
  uint32_t channelId = 0;
  uint32_t bodyLength = 0;
  uint16_t backlog = 0;  ///< buffer frames only: the buffers queued behind this one at the sender
};

/// The largest backlog a BUFFER frame can carry; larger backlogs are sent as this.
inline constexpr uint32_t kMaxFrameBacklog = 0xFFFF;

/// A whole frame; `body` points into the decoded bytes.
struct Frame {
  FrameKind kind = FrameKind::kClose;
  uint32_t channelId = 0;
  std::string_view body;
  uint16_t backlog = 0;  ///< buffer frames only
};

/// Writes `header` into `out`, which has room for kFrameHeaderSize bytes.
void encodeFrameHeader(const FrameHeader& header, char* out);

/// Decodes the first kFrameHeaderSize bytes of `bytes`. Returns InvalidArgument for a short
/// input, a bad magic number, another protocol version, non-zero flags on a frame that carries
/// no buffer, an unknown kind, a channel id that the kind does not allow, or a body longer than
/// `maxBufferBytes` (buffer frames) or kMaxControlBodyBytes (other kinds).
absl::StatusOr<FrameHeader> decodeFrameHeader(std::string_view bytes, uint32_t maxBufferBytes);

/// Checks the body of a frame against its kind's layout; InvalidArgument if it does not fit.
absl::Status validateFrameBody(FrameKind kind, std::string_view body);

/// A frame decoded from the front of a byte sequence, and its size on the wire; a size of 0
/// means the bytes hold only part of a frame.
struct DecodedFrame {
  Frame frame;
  size_t frameSize = 0;
};

/// Decodes the frame at the front of `bytes`: header and body checks as above. Never reads
/// past `bytes`; an incomplete frame is not an error.
absl::StatusOr<DecodedFrame> decodeFrame(std::string_view bytes, uint32_t maxBufferBytes);

/// The parts of a PARTITION_REQUEST body.
struct PartitionRequest {
  uint32_t initialCredit = 0;
  std::string_view subpartitionId;
};

/// Reads the body of a validated PARTITION_REQUEST.
PartitionRequest parsePartitionRequest(std::string_view body);
/// Reads the body of a validated ADD_CREDIT.
uint32_t parseAddCredit(std::string_view body);

/// Encodes a whole control frame; the body is checked by the caller's contract only.
std::string encodeFrame(FrameKind kind, uint32_t channelId, std::string_view body);
std::string encodeHello(std::string_view listeningAddress);
std::string encodePartitionRequest(uint32_t channelId,
                                   std::string_view subpartitionId,
                                   uint32_t initialCredit);
std::string encodeAddCredit(uint32_t channelId, uint32_t credit);
std::string encodeCancel(uint32_t channelId);
std::string encodeClose();
/// Encodes an ERROR frame; a message longer than kMaxControlBodyBytes is cut.
std::string encodeError(uint32_t channelId, std::string_view message);

}  // namespace brook::runtime::network
