#pragma once

/// The Nexmark event model: an online auction's stream of new persons, new auctions and bids.
/// Field names follow the Nexmark suites (Apache Beam's and nexmark/nexmark's Flink one); every
/// time is in epoch milliseconds.

#include <cstdint>
#include <string>
#include <variant>

#include <brook/serializer.h>

namespace brook::nexmark {

/// A new person: someone who may sell items and bid.
struct Person {
  int64_t id = 0;
  std::string name;
  std::string emailAddress;
  std::string creditCard;
  std::string city;
  std::string state;
  int64_t dateTime = 0;
  std::string extra;

  bool operator==(const Person&) const = default;
};

/// A new auction of an item by `seller`, open from `dateTime` until `expires`.
struct Auction {
  int64_t id = 0;
  std::string itemName;
  std::string description;
  int64_t initialBid = 0;
  int64_t reserve = 0;
  int64_t dateTime = 0;
  int64_t expires = 0;
  int64_t seller = 0;
  int64_t category = 0;
  std::string extra;

  bool operator==(const Auction&) const = default;
};

/// A bid of `price` (in cents) by `bidder` on `auction`.
struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  std::string channel;
  std::string url;
  int64_t dateTime = 0;
  std::string extra;

  bool operator==(const Bid&) const = default;
};

/// One event of the stream: a person, an auction or a bid.
struct Event {
  enum class Type : uint8_t { kPerson = 0, kAuction = 1, kBid = 2 };

  std::variant<Person, Auction, Bid> value;

  Type type() const { return static_cast<Type>(value.index()); }
  const Person* person() const { return std::get_if<Person>(&value); }
  const Auction* auction() const { return std::get_if<Auction>(&value); }
  const Bid* bid() const { return std::get_if<Bid>(&value); }
  /// The event's time: the `dateTime` of whichever it holds.
  int64_t dateTime() const {
    return std::visit([](const auto& e) { return e.dateTime; }, value);
  }

  bool operator==(const Event&) const = default;
};

}  // namespace brook::nexmark

BROOK_SERIALIZABLE(brook::nexmark::Person,
                   &brook::nexmark::Person::id,
                   &brook::nexmark::Person::name,
                   &brook::nexmark::Person::emailAddress,
                   &brook::nexmark::Person::creditCard,
                   &brook::nexmark::Person::city,
                   &brook::nexmark::Person::state,
                   &brook::nexmark::Person::dateTime,
                   &brook::nexmark::Person::extra);
BROOK_SERIALIZABLE(brook::nexmark::Auction,
                   &brook::nexmark::Auction::id,
                   &brook::nexmark::Auction::itemName,
                   &brook::nexmark::Auction::description,
                   &brook::nexmark::Auction::initialBid,
                   &brook::nexmark::Auction::reserve,
                   &brook::nexmark::Auction::dateTime,
                   &brook::nexmark::Auction::expires,
                   &brook::nexmark::Auction::seller,
                   &brook::nexmark::Auction::category,
                   &brook::nexmark::Auction::extra);
BROOK_SERIALIZABLE(brook::nexmark::Bid,
                   &brook::nexmark::Bid::auction,
                   &brook::nexmark::Bid::bidder,
                   &brook::nexmark::Bid::price,
                   &brook::nexmark::Bid::channel,
                   &brook::nexmark::Bid::url,
                   &brook::nexmark::Bid::dateTime,
                   &brook::nexmark::Bid::extra);

/// An event is its type byte, then the person, auction or bid it holds.
template <>
struct brook::TypeSerializer<brook::nexmark::Event> {
  static void serialize(const brook::nexmark::Event& event, DataOutput& out) {
    out.writeRaw<uint8_t>(static_cast<uint8_t>(event.value.index()));
    std::visit([&](const auto& e) { brook::serialize(e, out); }, event.value);
  }
  static void deserialize(DataInput& in, brook::nexmark::Event& event) {
    // Reuses the alternative the event already holds, and its strings' buffers.
    switch (in.readRaw<uint8_t>()) {
      case 0:
        brook::deserialize(in, holding<brook::nexmark::Person>(event));
        return;
      case 1:
        brook::deserialize(in, holding<brook::nexmark::Auction>(event));
        return;
      case 2:
        brook::deserialize(in, holding<brook::nexmark::Bid>(event));
        return;
      default:
        throw SerializationError("corrupt Nexmark event type in serialized record");
    }
  }

 private:
  template <typename T>
  static T& holding(brook::nexmark::Event& event) {
    if (T* held = std::get_if<T>(&event.value))
      return *held;
    return event.value.emplace<T>();
  }
};
