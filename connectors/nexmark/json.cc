#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <brook/nexmark/json.h>

namespace brook::nexmark {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Appends `value` as a JSON string: quotes, backslashes and control characters escaped; other
// bytes (UTF-8 included) as they are.
void appendString(std::string_view value, std::string& out) {
  out += '"';
  size_t plain = 0;  // start of the run of bytes that need no escape
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(value.data() + plain, i - plain);
    plain = i + 1;
    out += '\\';
    switch (c) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\f':
        out += 'f';
        break;
      case '\n':
        out += 'n';
        break;
      case '\r':
        out += 'r';
        break;
      case '\t':
        out += 't';
        break;
      default:
        out += "u00";
        out += kHexDigits[c >> 4];
        out += kHexDigits[c & 0xf];
    }
  }
  out.append(value.data() + plain, value.size() - plain);
  out += '"';
}

void appendInt(int64_t value, std::string& out) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

// Appends `,"name":`; "type" comes first, so every field follows another.
void appendKey(std::string_view name, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
}

void appendField(std::string_view name, int64_t value, std::string& out) {
  appendKey(name, out);
  appendInt(value, out);
}

void appendField(std::string_view name, const std::string& value, std::string& out) {
  appendKey(name, out);
  appendString(value, out);
}

// The fields of all three event types; a line's fields are looked up here, then checked
// against its type.
enum Field : uint8_t {
  kType,
  kId,
  kName,
  kEmailAddress,
  kCreditCard,
  kCity,
  kState,
  kDateTime,
  kExtra,
  kItemName,
  kDescription,
  kInitialBid,
  kReserve,
  kExpires,
  kSeller,
  kCategory,
  kAuction,
  kBidder,
  kPrice,
  kChannel,
  kUrl,
  kFieldCount
};

struct FieldInfo {
  std::string_view name;
  bool isString;
  // Bit (1 << Event::Type) for each event type that has the field; "type" has all.
  uint8_t types;
};

constexpr uint8_t kPersonBit = 1 << static_cast<int>(Event::Type::kPerson);
constexpr uint8_t kAuctionBit = 1 << static_cast<int>(Event::Type::kAuction);
constexpr uint8_t kBidBit = 1 << static_cast<int>(Event::Type::kBid);
constexpr uint8_t kAllBits = kPersonBit | kAuctionBit | kBidBit;

constexpr std::array<FieldInfo, kFieldCount> kFields = {{
    {"type", true, kAllBits},
    {"id", false, kPersonBit | kAuctionBit},
    {"name", true, kPersonBit},
    {"emailAddress", true, kPersonBit},
    {"creditCard", true, kPersonBit},
    {"city", true, kPersonBit},
    {"state", true, kPersonBit},
    {"dateTime", false, kAllBits},
    {"extra", true, kAllBits},
    {"itemName", true, kAuctionBit},
    {"description", true, kAuctionBit},
    {"initialBid", false, kAuctionBit},
    {"reserve", false, kAuctionBit},
    {"expires", false, kAuctionBit},
    {"seller", false, kAuctionBit},
    {"category", false, kAuctionBit},
    {"auction", false, kBidBit},
    {"bidder", false, kBidBit},
    {"price", false, kBidBit},
    {"channel", true, kBidBit},
    {"url", true, kBidBit},
}};

constexpr std::string_view typeName(Event::Type type) {
  switch (type) {
    case Event::Type::kPerson:
      return "person";
    case Event::Type::kAuction:
      return "auction";
    case Event::Type::kBid:
      return "bid";
  }
  return "?";
}

// A recursive-descent parser of one flat JSON object of Nexmark fields. Columns in errors are
// 1-based byte offsets into the line.
class EventParser {
 public:
  explicit EventParser(std::string_view line) : line_(line) {}

  absl::StatusOr<Event> parse() {
    skipWhitespace();
    if (!consume('{'))
      return error("expected '{' at the start of an event");
    skipWhitespace();
    if (!consume('}')) {
      for (;;) {
        absl::Status status = parseMember();
        if (!status.ok())
          return status;
        skipWhitespace();
        if (consume(','))
          continue;
        if (consume('}'))
          break;
        return error("expected ',' or '}' after field '" + std::string(kFields[lastField_].name) +
                     "'");
      }
    }
    skipWhitespace();
    if (pos_ != line_.size())
      return error("unexpected characters after the event");
    return build();
  }

 private:
  absl::Status error(const std::string& message) const { return errorAt(pos_, message); }
  absl::Status errorAt(size_t pos, const std::string& message) const {
    return absl::InvalidArgumentError(message + " at column " + std::to_string(pos + 1));
  }

  bool atEnd() const { return pos_ >= line_.size(); }
  bool consume(char c) {
    if (atEnd() || line_[pos_] != c)
      return false;
    ++pos_;
    return true;
  }
  void skipWhitespace() {
    while (!atEnd() && (line_[pos_] == ' ' || line_[pos_] == '\t' || line_[pos_] == '\n' ||
                        line_[pos_] == '\r'))
      ++pos_;
  }

  // What is being parsed, for errors: a field's value or (what_ < 0) a field name.
  std::string what() const {
    if (what_ < 0)
      return "a field name";
    return "field '" + std::string(kFields[static_cast<size_t>(what_)].name) + "'";
  }

  absl::Status parseMember() {
    skipWhitespace();
    const size_t keyPos = pos_;
    if (atEnd() || line_[pos_] != '"')
      return error("expected a field name in quotes");
    key_.clear();
    what_ = -1;
    absl::Status status = parseString(key_);
    if (!status.ok())
      return status;
    int field = -1;
    for (int i = 0; i < kFieldCount; ++i) {
      if (kFields[static_cast<size_t>(i)].name == key_) {
        field = i;
        break;
      }
    }
    if (field < 0)
      return errorAt(keyPos, "unknown field '" + key_ + "'");
    const FieldInfo& info = kFields[static_cast<size_t>(field)];
    if (seen_[static_cast<size_t>(field)])
      return errorAt(keyPos, "duplicate field '" + std::string(info.name) + "'");
    seen_[static_cast<size_t>(field)] = true;
    columns_[static_cast<size_t>(field)] = keyPos;
    lastField_ = static_cast<size_t>(field);
    skipWhitespace();
    if (!consume(':'))
      return error("expected ':' after field '" + std::string(info.name) + "'");
    skipWhitespace();
    what_ = field;
    if (info.isString) {
      if (atEnd() || line_[pos_] != '"')
        return error(what() + " must be a string");
      return parseString(strings_[static_cast<size_t>(field)]);
    }
    return parseInteger(numbers_[static_cast<size_t>(field)]);
  }

  // Parses a JSON integer (no fraction or exponent: every number field is an int64).
  absl::Status parseInteger(int64_t& value) {
    const size_t start = pos_;
    size_t end = pos_;
    if (end < line_.size() && line_[end] == '-')
      ++end;
    const size_t digits = end;
    while (end < line_.size() && line_[end] >= '0' && line_[end] <= '9')
      ++end;
    if (end == digits)
      return error(what() + " must be an integer");
    if (line_[digits] == '0' && end - digits > 1)
      return error(what() + " has a leading zero");
    if (end < line_.size() && (line_[end] == '.' || line_[end] == 'e' || line_[end] == 'E'))
      return errorAt(end, what() + " must be an integer");
    const auto result = std::from_chars(line_.data() + start, line_.data() + end, value);
    if (result.ec != std::errc())
      return error(what() + " is out of the range of a 64-bit integer");
    pos_ = end;
    return absl::OkStatus();
  }

  // Parses a JSON string at pos_ (at its opening quote) into `out`, decoding escapes.
  absl::Status parseString(std::string& out) {
    ++pos_;  // the opening quote
    out.clear();
    for (;;) {
      const size_t plain = pos_;
      while (!atEnd() && line_[pos_] != '"' && line_[pos_] != '\\' &&
             static_cast<unsigned char>(line_[pos_]) >= 0x20)
        ++pos_;
      out.append(line_.data() + plain, pos_ - plain);
      if (atEnd())
        return error("unterminated string in " + what());
      const char c = line_[pos_];
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c != '\\')
        return error("control character in " + what() + " (escape it)");
      const size_t escapePos = pos_;
      ++pos_;
      if (atEnd())
        return error("unterminated string in " + what());
      switch (line_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          absl::Status status = parseUnicodeEscape(escapePos, out);
          if (!status.ok())
            return status;
          break;
        }
        default:
          return errorAt(escapePos, "invalid escape in " + what());
      }
    }
  }

  // Reads the 4 hex digits of a \u escape at pos_; -1 if they are not.
  int32_t readHex4() {
    if (line_.size() - pos_ < 4)
      return -1;
    int32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = line_[pos_ + static_cast<size_t>(i)];
      int digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return -1;
      value = value * 16 + digit;
    }
    pos_ += 4;
    return value;
  }

  // Decodes \uXXXX (a surrogate pair being two of them) at pos_ (after the 'u') into UTF-8.
  absl::Status parseUnicodeEscape(size_t escapePos, std::string& out) {
    int32_t code = readHex4();
    if (code < 0)
      return errorAt(escapePos, "invalid \\u escape in " + what());
    if (code >= 0xDC00 && code <= 0xDFFF)
      return errorAt(escapePos, "unpaired surrogate in " + what());
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (line_.substr(pos_, 2) != "\\u")
        return errorAt(escapePos, "unpaired surrogate in " + what());
      pos_ += 2;
      const int32_t low = readHex4();
      if (low < 0xDC00 || low > 0xDFFF)
        return errorAt(escapePos, "unpaired surrogate in " + what());
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(code, out);
    return absl::OkStatus();
  }

  static void appendUtf8(int32_t code, std::string& out) {
    const auto c = static_cast<uint32_t>(code);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }

  // Checks the fields against the event's type and builds the event.
  absl::StatusOr<Event> build() {
    if (!seen_[kType])
      return errorAt(0, "missing field 'type'");
    Event::Type type;
    const std::string& name = strings_[kType];
    if (name == "person")
      type = Event::Type::kPerson;
    else if (name == "auction")
      type = Event::Type::kAuction;
    else if (name == "bid")
      type = Event::Type::kBid;
    else
      return errorAt(
          columns_[kType],
          "field 'type' must be \"person\", \"auction\" or \"bid\", got \"" + name + "\"");
    const auto bit = static_cast<uint8_t>(1 << static_cast<int>(type));
    for (size_t i = 0; i < kFieldCount; ++i) {
      const bool belongs = (kFields[i].types & bit) != 0;
      if (seen_[i] && !belongs) {
        return errorAt(columns_[i], "field '" + std::string(kFields[i].name) +
                                        "' does not belong to a " + std::string(typeName(type)));
      }
      if (!seen_[i] && belongs) {
        return errorAt(line_.size(), "missing field '" + std::string(kFields[i].name) + "' of a " +
                                         std::string(typeName(type)));
      }
    }
    Event event;
    switch (type) {
      case Event::Type::kPerson: {
        Person& p = event.value.emplace<Person>();
        p.id = numbers_[kId];
        p.name = std::move(strings_[kName]);
        p.emailAddress = std::move(strings_[kEmailAddress]);
        p.creditCard = std::move(strings_[kCreditCard]);
        p.city = std::move(strings_[kCity]);
        p.state = std::move(strings_[kState]);
        p.dateTime = numbers_[kDateTime];
        p.extra = std::move(strings_[kExtra]);
        break;
      }
      case Event::Type::kAuction: {
        Auction& a = event.value.emplace<Auction>();
        a.id = numbers_[kId];
        a.itemName = std::move(strings_[kItemName]);
        a.description = std::move(strings_[kDescription]);
        a.initialBid = numbers_[kInitialBid];
        a.reserve = numbers_[kReserve];
        a.dateTime = numbers_[kDateTime];
        a.expires = numbers_[kExpires];
        a.seller = numbers_[kSeller];
        a.category = numbers_[kCategory];
        a.extra = std::move(strings_[kExtra]);
        break;
      }
      case Event::Type::kBid: {
        Bid& b = event.value.emplace<Bid>();
        b.auction = numbers_[kAuction];
        b.bidder = numbers_[kBidder];
        b.price = numbers_[kPrice];
        b.channel = std::move(strings_[kChannel]);
        b.url = std::move(strings_[kUrl]);
        b.dateTime = numbers_[kDateTime];
        b.extra = std::move(strings_[kExtra]);
        break;
      }
    }
    return event;
  }

  std::string_view line_;
  size_t pos_ = 0;
  std::string key_;
  size_t lastField_ = kType;
  int what_ = -1;
  std::array<bool, kFieldCount> seen_{};
  std::array<size_t, kFieldCount> columns_{};
  std::array<int64_t, kFieldCount> numbers_{};
  std::array<std::string, kFieldCount> strings_;
};

}  // namespace

void appendJson(const Event& event, std::string& out) {
  out += "{\"type\":\"";
  out += typeName(event.type());
  out += '"';
  if (const Person* p = event.person()) {
    appendField("id", p->id, out);
    appendField("name", p->name, out);
    appendField("emailAddress", p->emailAddress, out);
    appendField("creditCard", p->creditCard, out);
    appendField("city", p->city, out);
    appendField("state", p->state, out);
    appendField("dateTime", p->dateTime, out);
    appendField("extra", p->extra, out);
  } else if (const Auction* a = event.auction()) {
    appendField("id", a->id, out);
    appendField("itemName", a->itemName, out);
    appendField("description", a->description, out);
    appendField("initialBid", a->initialBid, out);
    appendField("reserve", a->reserve, out);
    appendField("dateTime", a->dateTime, out);
    appendField("expires", a->expires, out);
    appendField("seller", a->seller, out);
    appendField("category", a->category, out);
    appendField("extra", a->extra, out);
  } else if (const Bid* b = event.bid()) {
    appendField("auction", b->auction, out);
    appendField("bidder", b->bidder, out);
    appendField("price", b->price, out);
    appendField("channel", b->channel, out);
    appendField("url", b->url, out);
    appendField("dateTime", b->dateTime, out);
    appendField("extra", b->extra, out);
  }
  out += '}';
}

absl::StatusOr<Event> parseEventJson(std::string_view line) {
  return EventParser(line).parse();
}

}  // namespace brook::nexmark
