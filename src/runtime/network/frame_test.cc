#include "runtime/network/frame.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace brook::runtime::network {
namespace {

constexpr uint32_t kMaxBuffer = 32 * 1024;

// A decoded frame that owns its body, so that the encoded bytes may go away.
struct OwnedFrame {
  FrameKind kind;
  uint32_t channelId;
  std::string body;
};

OwnedFrame decodeWhole(const std::string& bytes) {
  absl::StatusOr<DecodedFrame> decoded = decodeFrame(bytes, kMaxBuffer);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->frameSize, bytes.size());
  return {decoded->frame.kind, decoded->frame.channelId, std::string(decoded->frame.body)};
}

std::string header(uint8_t kind, uint32_t channel, uint32_t length) {
  std::string bytes(kFrameHeaderSize, '\0');
  encodeFrameHeader(FrameHeader{static_cast<FrameKind>(kind), channel, length}, bytes.data());
  return bytes;
}

TEST(FrameTest, RoundTripsEveryKind) {
  OwnedFrame hello = decodeWhole(encodeHello("127.0.0.1:6121"));
  EXPECT_EQ(hello.kind, FrameKind::kHello);
  EXPECT_EQ(hello.body, "127.0.0.1:6121");

  OwnedFrame request = decodeWhole(encodePartitionRequest(7, "job/edge-3/0/1", 2));
  EXPECT_EQ(request.kind, FrameKind::kPartitionRequest);
  EXPECT_EQ(request.channelId, 7u);
  PartitionRequest parsed = parsePartitionRequest(request.body);
  EXPECT_EQ(parsed.initialCredit, 2u);
  EXPECT_EQ(parsed.subpartitionId, "job/edge-3/0/1");

  std::string payload(1000, 'x');
  std::string buffer = header(static_cast<uint8_t>(FrameKind::kBuffer), 9, 1000) + payload;
  OwnedFrame b = decodeWhole(buffer);
  EXPECT_EQ(b.kind, FrameKind::kBuffer);
  EXPECT_EQ(b.channelId, 9u);
  EXPECT_EQ(b.body, payload);

  std::string priorityFrame(kFrameHeaderSize, '\0');
  encodeFrameHeader(FrameHeader{FrameKind::kPriorityBuffer, 9, 17, 12}, priorityFrame.data());
  const std::string priorityBytes = priorityFrame + std::string(17, '\5');
  absl::StatusOr<DecodedFrame> priority = decodeFrame(priorityBytes, kMaxBuffer);
  ASSERT_TRUE(priority.ok()) << priority.status();
  EXPECT_EQ(priority->frame.kind, FrameKind::kPriorityBuffer);
  EXPECT_EQ(priority->frame.backlog, 12);
  EXPECT_EQ(priority->frame.body, std::string(17, '\5'));
  EXPECT_STREQ(frameKindName(FrameKind::kPriorityBuffer), "PRIORITY_BUFFER");

  OwnedFrame credit = decodeWhole(encodeAddCredit(3, 5));
  EXPECT_EQ(credit.kind, FrameKind::kAddCredit);
  EXPECT_EQ(parseAddCredit(credit.body), 5u);

  EXPECT_EQ(decodeWhole(encodeCancel(4)).kind, FrameKind::kCancel);
  EXPECT_EQ(decodeWhole(encodeClose()).kind, FrameKind::kClose);
  OwnedFrame error = decodeWhole(encodeError(4, "no such subpartition"));
  EXPECT_EQ(error.kind, FrameKind::kError);
  EXPECT_EQ(error.body, "no such subpartition");
}

TEST(FrameTest, DecodesConsecutiveFramesAndWaitsForIncompleteOnes) {
  std::string bytes = encodeAddCredit(1, 2) + encodeCancel(1);
  absl::StatusOr<DecodedFrame> first = decodeFrame(bytes, kMaxBuffer);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->frame.kind, FrameKind::kAddCredit);
  absl::StatusOr<DecodedFrame> second =
      decodeFrame(std::string_view(bytes).substr(first->frameSize), kMaxBuffer);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->frame.kind, FrameKind::kCancel);
  for (size_t n = 0; n < first->frameSize; ++n) {
    absl::StatusOr<DecodedFrame> partial =
        decodeFrame(std::string_view(bytes).substr(0, n), kMaxBuffer);
    ASSERT_TRUE(partial.ok()) << n;
    EXPECT_EQ(partial->frameSize, 0u) << n;
  }
}

TEST(FrameTest, BufferFramesCarryTheBacklogInTheFlags) {
  std::string bytes(kFrameHeaderSize, '\0');
  encodeFrameHeader(FrameHeader{FrameKind::kBuffer, 3, 4, 517}, bytes.data());
  bytes += "abcd";
  absl::StatusOr<DecodedFrame> decoded = decodeFrame(bytes, kMaxBuffer);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->frame.kind, FrameKind::kBuffer);
  EXPECT_EQ(decoded->frame.backlog, 517);
  EXPECT_EQ(decoded->frame.body, "abcd");

  // Other kinds carry none, whatever the header struct says.
  std::string credit(kFrameHeaderSize + 4, '\0');
  encodeFrameHeader(FrameHeader{FrameKind::kAddCredit, 3, 4, 517}, credit.data());
  credit[kFrameHeaderSize] = 1;
  absl::StatusOr<DecodedFrame> decodedCredit = decodeFrame(credit, kMaxBuffer);
  ASSERT_TRUE(decodedCredit.ok()) << decodedCredit.status();
  EXPECT_EQ(decodedCredit->frame.backlog, 0);
}

void expectRefused(const std::string& bytes, const std::string& messagePart) {
  absl::StatusOr<DecodedFrame> decoded = decodeFrame(bytes, kMaxBuffer);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find(messagePart), std::string::npos) << decoded.status();
}

TEST(FrameTest, RefusesMalformedHeaders) {
  std::string badMagic = encodeCancel(1);
  badMagic[0] = 'X';
  expectRefused(badMagic, "magic");

  std::string badVersion = encodeCancel(1);
  badVersion[4] = static_cast<char>(kProtocolVersion + 1);
  expectRefused(badVersion, "version");

  expectRefused(header(0, 1, 0), "unknown frame kind");
  expectRefused(header(9, 1, 0), "unknown frame kind");
  expectRefused(header(200, 1, 0), "unknown frame kind");

  std::string flags = encodeCancel(1);
  flags[6] = 1;
  expectRefused(flags, "flags");

  expectRefused(header(static_cast<uint8_t>(FrameKind::kBuffer), 1, kMaxBuffer + 1), "exceeds");
  expectRefused(header(static_cast<uint8_t>(FrameKind::kBuffer), 1, 0xFFFFFFFF), "exceeds");
  expectRefused(header(static_cast<uint8_t>(FrameKind::kError), 1, kMaxControlBodyBytes + 1),
                "exceeds");
  expectRefused(header(static_cast<uint8_t>(FrameKind::kBuffer), 0, 0), "channel 0");
  expectRefused(header(static_cast<uint8_t>(FrameKind::kHello), 3, 0), "channel 3");

  EXPECT_FALSE(decodeFrameHeader("short", kMaxBuffer).ok());
}

TEST(FrameTest, RefusesMalformedBodies) {
  expectRefused(header(static_cast<uint8_t>(FrameKind::kAddCredit), 1, 3) + "abc", "ADD_CREDIT");
  expectRefused(encodeAddCredit(1, 0), "ADD_CREDIT of 0");
  expectRefused(encodeFrame(FrameKind::kPartitionRequest, 1, "abcd"), "PARTITION_REQUEST");
  expectRefused(encodePartitionRequest(1, std::string(kMaxSubpartitionIdBytes + 1, 'i'), 2),
                "PARTITION_REQUEST");
  expectRefused(encodeFrame(FrameKind::kCancel, 1, "x"), "CANCEL");
  expectRefused(encodeFrame(FrameKind::kClose, 0, "x"), "CLOSE");
  expectRefused(encodeFrame(FrameKind::kHello, 0, ""), "HELLO");
}

}  // namespace
}  // namespace brook::runtime::network
