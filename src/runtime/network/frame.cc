#include "runtime/network/frame.h"

#include <cstring>

#include <absl/strings/str_cat.h>

namespace brook::runtime::network {
namespace {

uint32_t loadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint16_t loadU16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void storeU32(char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}

bool isKnownKind(uint8_t kind) {
  return kind >= static_cast<uint8_t>(FrameKind::kHello) &&
         kind <= static_cast<uint8_t>(FrameKind::kPriorityBuffer);
}

}  // namespace

const char* frameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kHello:
      return "HELLO";
    case FrameKind::kPartitionRequest:
      return "PARTITION_REQUEST";
    case FrameKind::kBuffer:
      return "BUFFER";
    case FrameKind::kAddCredit:
      return "ADD_CREDIT";
    case FrameKind::kCancel:
      return "CANCEL";
    case FrameKind::kClose:
      return "CLOSE";
    case FrameKind::kError:
      return "ERROR";
    case FrameKind::kPriorityBuffer:
      return "PRIORITY_BUFFER";
  }
  return "UNKNOWN";
}

void encodeFrameHeader(const FrameHeader& header, char* out) {
  storeU32(out, kFrameMagic);
  out[4] = static_cast<char>(kProtocolVersion);
  out[5] = static_cast<char>(header.kind);
  uint16_t flags = isBufferFrame(header.kind) ? header.backlog : 0;
  std::memcpy(out + 6, &flags, 2);
  storeU32(out + 8, header.channelId);
  storeU32(out + 12, header.bodyLength);
}

absl::StatusOr<FrameHeader> decodeFrameHeader(std::string_view bytes, uint32_t maxBufferBytes) {
  if (bytes.size() < kFrameHeaderSize)
    return absl::InvalidArgumentError(absl::StrCat("short frame header: ", bytes.size(), " bytes"));
  const char* p = bytes.data();
  uint32_t magic = loadU32(p);
  if (magic != kFrameMagic)
    return absl::InvalidArgumentError(absl::StrCat("bad frame magic 0x", absl::Hex(magic)));
  auto version = static_cast<uint8_t>(p[4]);
  if (version != kProtocolVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported protocol version ", version,
                                                   " (this side speaks ", kProtocolVersion, ")"));
  }
  auto kind = static_cast<uint8_t>(p[5]);
  if (!isKnownKind(kind))
    return absl::InvalidArgumentError(absl::StrCat("unknown frame kind ", kind));
  uint16_t flags = loadU16(p + 6);
  if (flags != 0 && !isBufferFrame(static_cast<FrameKind>(kind)))
    return absl::InvalidArgumentError("non-zero frame flags");
  FrameHeader header;
  header.kind = static_cast<FrameKind>(kind);
  header.backlog = flags;
  header.channelId = loadU32(p + 8);
  header.bodyLength = loadU32(p + 12);
  bool connectionLevel = header.kind == FrameKind::kHello || header.kind == FrameKind::kClose;
  bool channelLevel = header.kind != FrameKind::kError && !connectionLevel;
  if (connectionLevel && header.channelId != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(frameKindName(header.kind), " frame on channel ", header.channelId));
  }
  if (channelLevel && header.channelId == 0)
    return absl::InvalidArgumentError(
        absl::StrCat(frameKindName(header.kind), " frame on channel 0"));
  uint32_t limit = isBufferFrame(header.kind) ? maxBufferBytes : kMaxControlBodyBytes;
  if (header.bodyLength > limit) {
    return absl::InvalidArgumentError(absl::StrCat(frameKindName(header.kind), " frame of ",
                                                   header.bodyLength, " bytes exceeds ", limit));
  }
  return header;
}

absl::Status validateFrameBody(FrameKind kind, std::string_view body) {
  switch (kind) {
    case FrameKind::kHello:
      if (body.empty() || body.size() > 256)
        return absl::InvalidArgumentError(absl::StrCat("HELLO address of ", body.size(), " bytes"));
      return absl::OkStatus();
    case FrameKind::kPartitionRequest:
      if (body.size() <= 4 || body.size() - 4 > kMaxSubpartitionIdBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("PARTITION_REQUEST body of ", body.size(), " bytes"));
      }
      return absl::OkStatus();
    case FrameKind::kAddCredit:
      if (body.size() != 4)
        return absl::InvalidArgumentError(
            absl::StrCat("ADD_CREDIT body of ", body.size(), " bytes"));
      if (loadU32(body.data()) == 0)
        return absl::InvalidArgumentError("ADD_CREDIT of 0");
      return absl::OkStatus();
    case FrameKind::kCancel:
    case FrameKind::kClose:
      if (!body.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(frameKindName(kind), " body of ", body.size(), " bytes"));
      }
      return absl::OkStatus();
    case FrameKind::kBuffer:
    case FrameKind::kPriorityBuffer:
    case FrameKind::kError:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown frame kind");
}

absl::StatusOr<DecodedFrame> decodeFrame(std::string_view bytes, uint32_t maxBufferBytes) {
  DecodedFrame decoded;
  if (bytes.size() < kFrameHeaderSize)
    return decoded;
  absl::StatusOr<FrameHeader> header = decodeFrameHeader(bytes, maxBufferBytes);
  if (!header.ok())
    return header.status();
  size_t size = kFrameHeaderSize + header->bodyLength;
  if (bytes.size() < size)
    return decoded;
  std::string_view body = bytes.substr(kFrameHeaderSize, header->bodyLength);
  absl::Status valid = validateFrameBody(header->kind, body);
  if (!valid.ok())
    return valid;
  decoded.frame = Frame{header->kind, header->channelId, body, header->backlog};
  decoded.frameSize = size;
  return decoded;
}

PartitionRequest parsePartitionRequest(std::string_view body) {
  return PartitionRequest{loadU32(body.data()), body.substr(4)};
}

uint32_t parseAddCredit(std::string_view body) {
  return loadU32(body.data());
}

std::string encodeFrame(FrameKind kind, uint32_t channelId, std::string_view body) {
  std::string out(kFrameHeaderSize + body.size(), '\0');
  encodeFrameHeader(FrameHeader{kind, channelId, static_cast<uint32_t>(body.size())}, out.data());
  if (!body.empty())
    std::memcpy(out.data() + kFrameHeaderSize, body.data(), body.size());
  return out;
}

std::string encodeHello(std::string_view listeningAddress) {
  return encodeFrame(FrameKind::kHello, 0, listeningAddress);
}

std::string encodePartitionRequest(uint32_t channelId,
                                   std::string_view subpartitionId,
                                   uint32_t initialCredit) {
  std::string body(4, '\0');
  storeU32(body.data(), initialCredit);
  body.append(subpartitionId);
  return encodeFrame(FrameKind::kPartitionRequest, channelId, body);
}

std::string encodeAddCredit(uint32_t channelId, uint32_t credit) {
  char body[4];
  storeU32(body, credit);
  return encodeFrame(FrameKind::kAddCredit, channelId, std::string_view(body, 4));
}

std::string encodeCancel(uint32_t channelId) {
  return encodeFrame(FrameKind::kCancel, channelId, {});
}

std::string encodeClose() {
  return encodeFrame(FrameKind::kClose, 0, {});
}

std::string encodeError(uint32_t channelId, std::string_view message) {
  return encodeFrame(FrameKind::kError, channelId, message.substr(0, kMaxControlBodyBytes));
}

}  // namespace brook::runtime::network
