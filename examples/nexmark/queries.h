#pragma once

/// The Nexmark queries, written with the DataStream API. Each query takes the stream of
/// events (timestamped by their dateTime, with watermarks 4 s behind, as the nexmark/nexmark
/// suite's source table declares) and writes its result rows to a QueryOutput. Rows are
/// written as CSV lines, the query's result columns in the order of its SQL definition; times
/// are epoch milliseconds.

#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brook/brook.h>
#include <brook/nexmark/model.h>

namespace nexmark {

using brook::nexmark::Auction;
using brook::nexmark::Bid;
using brook::nexmark::Event;
using brook::nexmark::Person;

/// A query's result row: serializable, and written as CSV by `appendCsv`. A row that can say
/// how late it is has `int64_t latencyTime() const`: the event time (epoch ms) whose arrival
/// made it (a bid's dateTime, a window's end).
template <typename Row>
concept ResultRow = requires(const Row& row, std::string& out) { row.appendCsv(out); };
template <typename Row>
concept TimedRow = requires(const Row& row) {
  { row.latencyTime() } -> std::convertible_to<int64_t>;
};

/// Appends `value` in decimal to a CSV line.
inline void appendCsvField(std::string& out, int64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

/// Appends `text` to a CSV line, quoted (RFC 4180) only when it holds a comma, a quote or a
/// line break, so that the generator's plain words pass as they are.
inline void appendCsvField(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (char c : text) {
    if (c == '"')
      out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

/// Where a query's rows go: CSV files in a folder (the exactly-once file sink), standard
/// output, a collect sink (tests), or nowhere (benchmarks: rows are made but not formatted,
/// like Flink's blackhole connector).
class QueryOutput {
 public:
  static QueryOutput discard() { return QueryOutput(Kind::kDiscard); }
  static QueryOutput files(std::string directory) {
    QueryOutput out(Kind::kFiles);
    out.directory_ = std::move(directory);
    return out;
  }
  static QueryOutput print() { return QueryOutput(Kind::kPrint); }
  /// Drops the rows, measuring for each the wall-clock milliseconds since its latencyTime();
  /// each sink subtask writes its histogram to `directory`/latency-<subtask>.txt as
  /// "<milliseconds> <rows>" lines when the job ends. Meaningful when event time follows the
  /// wall clock (a rate-limited generator whose base time is now).
  static QueryOutput latency(std::string directory) {
    QueryOutput out(Kind::kLatency);
    out.directory_ = std::move(directory);
    return out;
  }
  static QueryOutput collect(brook::CollectSink<std::string> sink) {
    QueryOutput out(Kind::kCollect);
    out.collect_ = std::move(sink);
    return out;
  }

  template <ResultRow Row>
  void write(const brook::DataStream<Row>& rows) const {
    if (kind_ == Kind::kDiscard) {
      rows.sinkTo(brook::Sink<Row>{"Blackhole", [] {
                    return std::make_unique<DiscardingWriter<Row>>();
                  }})
          .name("Blackhole")
          .uid("nexmark-sink");
      return;
    }
    if (kind_ == Kind::kLatency) {
      if constexpr (TimedRow<Row>) {
        rows.sinkTo(brook::Sink<Row>{"Latency", [directory = directory_] {
                      return std::make_unique<LatencyWriter<Row>>(directory);
                    }})
            .name("Latency")
            .uid("nexmark-sink");
        return;
      } else {
        throw brook::JobDefinitionError(
            "this query's rows carry no event time to measure latency by");
      }
    }
    auto lines = rows.map([](const Row& row) {
                       std::string line;
                       row.appendCsv(line);
                       return line;
                     })
                     .name("To CSV");
    switch (kind_) {
      case Kind::kFiles:
        lines.writeAsText(directory_).name("CSV Files").uid("nexmark-sink");
        break;
      case Kind::kPrint:
        lines.print().name("Print").uid("nexmark-sink");
        break;
      case Kind::kCollect:
        lines.sinkTo(collect_->sink()).name("Collect").uid("nexmark-sink");
        break;
      case Kind::kDiscard:
      case Kind::kLatency:
        break;
    }
  }

 private:
  enum class Kind { kDiscard, kFiles, kPrint, kCollect, kLatency };
  template <typename Row>
  class DiscardingWriter final : public brook::SinkWriter<Row> {
   public:
    void write(Row&&, int64_t) override {}
  };
  template <typename Row>
  class LatencyWriter final : public brook::SinkWriter<Row> {
   public:
    explicit LatencyWriter(std::string directory) : directory_(std::move(directory)) {}
    void open(const brook::RuntimeContext& context) override { subtask_ = context.subtaskIndex; }
    void write(Row&& row, int64_t) override {
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      ++histogram_[now - static_cast<int64_t>(row.latencyTime())];
    }
    void finish() override {
      std::ofstream out(directory_ + "/latency-" + std::to_string(subtask_) + ".txt");
      for (const auto& [millis, rows] : histogram_)
        out << millis << ' ' << rows << '\n';
      if (!out)
        throw std::runtime_error("cannot write the latency histogram into " + directory_);
    }

   private:
    std::string directory_;
    int subtask_ = 0;
    std::map<int64_t, int64_t> histogram_;
  };
  explicit QueryOutput(Kind kind) : kind_(kind) {}

  Kind kind_;
  std::string directory_;
  std::optional<brook::CollectSink<std::string>> collect_;
};

/// The queries by name ("q0" ... "q12"), in the order of the suite.
struct Query {
  const char* name;
  const char* description;
  std::function<void(const brook::DataStream<Event>&, const QueryOutput&)> build;
};
const std::vector<Query>& queries();

/// Builds query `name` on `events`; throws brook::JobDefinitionError naming the query and the
/// known ones when there is no such query.
void buildQuery(const std::string& name,
                const brook::DataStream<Event>& events,
                const QueryOutput& output);

/// The events of `source` with their dateTime as timestamp and watermarks 4 s behind the
/// largest timestamp seen.
brook::WatermarkStrategy<Event> nexmarkWatermarks();

// The queries, one function each (stateless_queries.cc, join_queries.cc, window_queries.cc).
void q0(const brook::DataStream<Event>& events, const QueryOutput& output);
void q1(const brook::DataStream<Event>& events, const QueryOutput& output);
void q2(const brook::DataStream<Event>& events, const QueryOutput& output);
void q3(const brook::DataStream<Event>& events, const QueryOutput& output);
void q4(const brook::DataStream<Event>& events, const QueryOutput& output);
void q5(const brook::DataStream<Event>& events, const QueryOutput& output);
void q7(const brook::DataStream<Event>& events, const QueryOutput& output);
void q8(const brook::DataStream<Event>& events, const QueryOutput& output);
void q11(const brook::DataStream<Event>& events, const QueryOutput& output);
void q12(const brook::DataStream<Event>& events, const QueryOutput& output);

}  // namespace nexmark
