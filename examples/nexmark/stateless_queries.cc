// The stateless Nexmark queries: q0 (pass-through), q1 (currency conversion) and q2
// (selection). Each is one flatMap over the events that keeps the bids it wants and moves them
// into a small row, so that nothing but the row's fields is copied and a record crosses one
// operator (chained with the source's) before the sink.

#include <charconv>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "queries.h"

namespace nexmark {
namespace {

/// A row of q0: the bid's columns that nexmark/nexmark's q0 selects.
struct Q0Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t dateTime = 0;
  std::string extra;

  int64_t latencyTime() const { return dateTime; }

  void appendCsv(std::string& out) const {
    appendCsvField(out, auction);
    out.push_back(',');
    appendCsvField(out, bidder);
    out.push_back(',');
    appendCsvField(out, price);
    out.push_back(',');
    appendCsvField(out, dateTime);
    out.push_back(',');
    appendCsvField(out, extra);
  }
};

/// A row of q1: q0's columns with the price converted, 0.908 * price, held exactly in
/// thousandths (SQL's DECIMAL(x, 3) result) and written with three decimals.
struct Q1Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t priceThousandths = 0;
  int64_t dateTime = 0;
  std::string extra;

  int64_t latencyTime() const { return dateTime; }

  void appendCsv(std::string& out) const {
    appendCsvField(out, auction);
    out.push_back(',');
    appendCsvField(out, bidder);
    out.push_back(',');
    appendDecimal3(out, priceThousandths);
    out.push_back(',');
    appendCsvField(out, dateTime);
    out.push_back(',');
    appendCsvField(out, extra);
  }

  /// Writes `thousandths` / 1000 with exactly three decimals ("2270.000", "-0.908").
  static void appendDecimal3(std::string& out, int64_t thousandths) {
    // The magnitude as unsigned, so that INT64_MIN has one too.
    uint64_t magnitude = static_cast<uint64_t>(thousandths);
    if (thousandths < 0) {
      out.push_back('-');
      magnitude = ~magnitude + 1;
    }
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, magnitude / 1000);
    out.append(digits, result.ptr);
    const auto fraction = static_cast<unsigned>(magnitude % 1000);
    out.push_back('.');
    out.push_back(static_cast<char>('0' + fraction / 100));
    out.push_back(static_cast<char>('0' + fraction / 10 % 10));
    out.push_back(static_cast<char>('0' + fraction % 10));
  }
};

/// A row of q2: a bid's auction and price; `dateTime` is the bid's (not written).
struct Q2Row {
  int64_t auction = 0;
  int64_t price = 0;
  int64_t dateTime = 0;

  int64_t latencyTime() const { return dateTime; }

  void appendCsv(std::string& out) const {
    appendCsvField(out, auction);
    out.push_back(',');
    appendCsvField(out, price);
  }
};

}  // namespace
}  // namespace nexmark

BROOK_SERIALIZABLE(::nexmark::Q0Row,
                   &::nexmark::Q0Row::auction,
                   &::nexmark::Q0Row::bidder,
                   &::nexmark::Q0Row::price,
                   &::nexmark::Q0Row::dateTime,
                   &::nexmark::Q0Row::extra);
BROOK_SERIALIZABLE(::nexmark::Q1Row,
                   &::nexmark::Q1Row::auction,
                   &::nexmark::Q1Row::bidder,
                   &::nexmark::Q1Row::priceThousandths,
                   &::nexmark::Q1Row::dateTime,
                   &::nexmark::Q1Row::extra);
BROOK_SERIALIZABLE(::nexmark::Q2Row,
                   &::nexmark::Q2Row::auction,
                   &::nexmark::Q2Row::price,
                   &::nexmark::Q2Row::dateTime);

namespace nexmark {

void q0(const brook::DataStream<Event>& events, const QueryOutput& output) {
  output.write(events
                   .flatMap([](Event&& event, brook::Collector<Q0Row>& out) {
                     Bid* bid = std::get_if<Bid>(&event.value);
                     if (bid == nullptr)
                       return;
                     out.collect(Q0Row{bid->auction, bid->bidder, bid->price, bid->dateTime,
                                       std::move(bid->extra)});
                   })
                   .name("Q0 Bids"));
}

void q1(const brook::DataStream<Event>& events, const QueryOutput& output) {
  output.write(events
                   .flatMap([](Event&& event, brook::Collector<Q1Row>& out) {
                     Bid* bid = std::get_if<Bid>(&event.value);
                     if (bid == nullptr)
                       return;
                     // 0.908 * price in thousandths: exact, where a double would round.
                     out.collect(Q1Row{bid->auction, bid->bidder, bid->price * 908, bid->dateTime,
                                       std::move(bid->extra)});
                   })
                   .name("Q1 Bids in Euros"));
}

void q2(const brook::DataStream<Event>& events, const QueryOutput& output) {
  output.write(events
                   .flatMap([](Event&& event, brook::Collector<Q2Row>& out) {
                     const Bid* bid = event.bid();
                     // MOD(auction, 123) = 0, with SQL's sign rule (that of C++'s %).
                     if (bid != nullptr && bid->auction % 123 == 0)
                       out.collect(Q2Row{bid->auction, bid->price, bid->dateTime});
                   })
                   .name("Q2 Selected Bids"));
}

}  // namespace nexmark
