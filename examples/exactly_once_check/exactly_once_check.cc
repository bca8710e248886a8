// Exactly-once check: audits that a cluster's checkpoints and recovery give exactly-once state.
//
//   brook run [--local] [-p N] -D execution.checkpointing.interval=1s
//       -D state.checkpoints.dir=file:///tmp/checkpoints exactly_once_check.so --
//       [--keys K] [--events N] [--rate R] [--output DIR] [--inject-anomalies]
//       [--verifier-uid UID] [--source-uid UID]
//
// Input. For each of K keys (default 1000) a parallel source emits the sequence numbers
// 0, 1, 2, ... as (key, seq) records; N records in all (key k gets N / K of them, one more when
// k < N % K), or without end when N is 0 or absent. Source subtask i of p owns the i-th
// contiguous share of the keys and walks them round robin, at most R records per second
// (0 or absent: as fast as it can). Its checkpointed position is, per key, the next sequence
// number, so a restore at any parallelism continues every key exactly where the checkpoint
// left it.
//
// Verification. keyBy(key) leads to a verifier that keeps, per key in ValueState, the sequence
// number it expects next. A record carrying exactly that number is the normal case; any other
// is an anomaly, recorded in a second state: a number above the expected one opens a gap (the
// numbers skipped), a number below it is out of order when it fills a gap and a duplicate when
// it was seen already, and a number the source never emits (at or past the key's count) is
// "beyond the end". The state is what a checkpoint restores, so a job restarted from a
// checkpoint must continue every key exactly at the restored expectation: a record replayed
// twice shows up as a duplicate, one lost as a gap.
//
// Verdict. A bounded input ends with the maximum watermark, which fires one event-time timer
// per key; each key then reports its counts, the sequence numbers it still misses included
// (a record lost at the end of a key's sequence is a gap too). One non-parallel operator adds
// the reports up (keys that never reported count as gaps of all their records) and writes one
// line, printed and, with --output, written to a part file of DIR:
//
//   exactly-once check: OK: 1000 keys, 5000000 records, 0 gaps, 0 duplicates, 0 out of order
//   exactly-once check: FAILED: 1000 keys, 4990000 records of 5000000, 10000 gaps,
//       0 duplicates, 0 out of order; first offending keys: 0, 1, 2, 3, 4
//
// (the second on one line). "gaps" counts sequence numbers never received, so records + gaps
// - duplicates - beyond the end = the expected count. Keys that never reported are added as
// "(N keys without any record)". An unbounded run never ends and prints no verdict.
//
// Checking the check. --inject-anomalies makes the source lose record 1 of key 0, send record 1
// of key 1 twice and swap records 1 and 2 of key 2: the verdict must then be FAILED with one
// gap, one duplicate and one out of order, naming keys 0, 1 and 2. --verifier-uid (default
// "sequence-verifier") and --source-uid (default "sequence-source") are the operators' uids:
// restoring a checkpoint with another verifier uid and --allow-non-restored-state resumes the
// source but starts the verifier from nothing, so every key misses what came before the
// checkpoint (gaps); with another source uid the source starts over while the verifier
// resumes, so what came before the checkpoint arrives twice (duplicates).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <brook/brook.h>

namespace {

/// One record of the audited stream: the `seq`-th of `key`.
struct Event {
  int64_t key = 0;
  int64_t seq = 0;
};

/// What one key's verifier found, sent to the verdict when the input ends.
struct KeyReport {
  int64_t key = 0;
  int64_t records = 0;     // every record received, anomalies included
  int64_t gaps = 0;        // sequence numbers never received
  int64_t duplicates = 0;  // numbers received again
  int64_t outOfOrder = 0;  // numbers received after a later one
  int64_t beyondEnd = 0;   // numbers the source never emits for this key
};

/// The rare part of a key's verifier state: its anomalies so far. `holes` are the ranges
/// [first, end) of numbers skipped and not (yet) received, in increasing order.
struct KeyAnomalies {
  int64_t duplicates = 0;
  int64_t outOfOrder = 0;
  int64_t beyondEnd = 0;
  std::vector<std::pair<int64_t, int64_t>> holes;
};

/// The verdict's running totals over the keys' reports.
struct VerdictTotals {
  int64_t keys = 0;
  int64_t records = 0;
  int64_t expectedRecordsOfKeys = 0;  // of the keys that reported
  int64_t gaps = 0;
  int64_t duplicates = 0;
  int64_t outOfOrder = 0;
  int64_t beyondEnd = 0;
  std::vector<int64_t> offendingKeys;  // the smallest few, ascending
};

}  // namespace

BROOK_SERIALIZABLE(Event, &Event::key, &Event::seq);
BROOK_SERIALIZABLE(KeyReport,
                   &KeyReport::key,
                   &KeyReport::records,
                   &KeyReport::gaps,
                   &KeyReport::duplicates,
                   &KeyReport::outOfOrder,
                   &KeyReport::beyondEnd);
BROOK_SERIALIZABLE(KeyAnomalies,
                   &KeyAnomalies::duplicates,
                   &KeyAnomalies::outOfOrder,
                   &KeyAnomalies::beyondEnd,
                   &KeyAnomalies::holes);
BROOK_SERIALIZABLE(VerdictTotals,
                   &VerdictTotals::keys,
                   &VerdictTotals::records,
                   &VerdictTotals::expectedRecordsOfKeys,
                   &VerdictTotals::gaps,
                   &VerdictTotals::duplicates,
                   &VerdictTotals::outOfOrder,
                   &VerdictTotals::beyondEnd,
                   &VerdictTotals::offendingKeys);

namespace {

/// The event time of the timers that fire only when a bounded input ends (its maximum
/// watermark): the records carry no timestamps, so no other watermark reaches it.
constexpr int64_t kEndOfInputTimer = int64_t{1} << 60;
/// How many offending keys the verdict names.
constexpr size_t kOffendingKeysShown = 5;

/// The shape of the audited stream: how many records each key gets.
class SequencePlan {
 public:
  SequencePlan(int64_t keys, int64_t events) : keys_(keys), events_(events) {}

  int64_t keys() const { return keys_; }
  bool bounded() const { return events_ > 0; }
  int64_t events() const { return events_; }
  /// The number of records of `key`: its sequence is [0, recordsOf(key)).
  int64_t recordsOf(int64_t key) const {
    if (!bounded())
      return std::numeric_limits<int64_t>::max();
    return events_ / keys_ + (key < events_ % keys_ ? 1 : 0);
  }

 private:
  int64_t keys_;
  int64_t events_;  // 0: unbounded
};

/// Emits the sequences of one subtask's keys, round robin over the keys, at most `rate`
/// records per second (0: unthrottled). Its position is the next number of every key that has
/// not ended, written as runs of consecutive keys with the same next number, so it stays small
/// while the keys advance in step.
class SequenceReader final : public brook::SourceReader<Event> {
 public:
  SequenceReader(SequencePlan plan, int64_t rate, bool injectAnomalies)
      : plan_(plan), rate_(rate), injectAnomalies_(injectAnomalies) {}

  void restoreState(std::string_view state) override {
    brook::DataInput in(state);
    if (state.size() < sizeof(int64_t) || in.readRaw<int64_t>() != kFormatVersion ||
        in.remaining() % (3 * sizeof(int64_t)) != 0) {
      throw std::runtime_error("the restored position of the sequence source is not one it wrote");
    }
    while (in.remaining() != 0) {
      const auto first = in.readRaw<int64_t>();
      const auto end = in.readRaw<int64_t>();
      const auto next = in.readRaw<int64_t>();
      if (first < 0 || end <= first || end > plan_.keys()) {
        throw std::runtime_error("the restored position names keys [" + std::to_string(first) +
                                 ", " + std::to_string(end) + "), outside --keys " +
                                 std::to_string(plan_.keys()) +
                                 ": restore with the --keys of the checkpointed run");
      }
      for (int64_t key = first; key < end; ++key) {
        if (next < 0 || next > plan_.recordsOf(key)) {
          throw std::runtime_error("the restored position of key " + std::to_string(key) + " is " +
                                   std::to_string(next) +
                                   ", past its end: restore with the --events of the "
                                   "checkpointed run");
        }
        positions_.push_back({key, next});
      }
    }
  }

  void open(const brook::RuntimeContext& context) override {
    if (context.restored) {
      // Positions from several readers of the checkpointed run: walk them in key order.
      std::sort(positions_.begin(), positions_.end(),
                [](const Position& a, const Position& b) { return a.key < b.key; });
    } else {
      const int64_t p = context.parallelism;
      const int64_t i = context.subtaskIndex;
      for (int64_t key = plan_.keys() * i / p; key < plan_.keys() * (i + 1) / p; ++key)
        positions_.push_back({key, 0});
    }
    started_ = std::chrono::steady_clock::now();
  }

  brook::InputStatus pollNext(brook::SourceOutput<Event>& output) override {
    int64_t budget = kBatch;
    if (rate_ > 0) {
      const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - started_)
                               .count();
      const auto allowed =
          static_cast<int64_t>(static_cast<double>(rate_) * static_cast<double>(elapsed) / 1e6);
      budget = std::min(budget, allowed - emitted_);
      if (budget <= 0)
        return brook::InputStatus::kNothingAvailable;
    }
    for (int64_t n = 0; n < budget;) {
      if (cursor_ == positions_.size()) {
        // A round is over: drop the keys that ended, so a round costs what it emits.
        std::erase_if(positions_,
                      [this](const Position& p) { return p.next >= plan_.recordsOf(p.key); });
        cursor_ = 0;
        if (positions_.empty())
          return brook::InputStatus::kEndOfInput;
      }
      Position& p = positions_[cursor_++];
      if (p.next >= plan_.recordsOf(p.key))
        continue;
      emit(output, p.key, p.next);
      ++p.next;
      ++emitted_;
      ++n;
    }
    return brook::InputStatus::kMoreAvailable;
  }

  std::string snapshotState(int64_t) override {
    // Never empty, so that a reader whose keys all ended still restores as "nothing left".
    brook::DataOutput out;
    out.writeRaw<int64_t>(kFormatVersion);
    auto ended = [this](const Position& p) {
      return p.next >= plan_.recordsOf(p.key);
    };
    size_t i = 0;
    while (i < positions_.size()) {
      size_t j = i + 1;
      while (j < positions_.size() && positions_[j].key == positions_[j - 1].key + 1 &&
             positions_[j].next == positions_[i].next &&
             ended(positions_[j]) == ended(positions_[i])) {
        ++j;
      }
      if (!ended(positions_[i])) {
        out.writeRaw<int64_t>(positions_[i].key);
        out.writeRaw<int64_t>(positions_[j - 1].key + 1);
        out.writeRaw<int64_t>(positions_[i].next);
      }
      i = j;
    }
    return std::string(out.view());
  }

 private:
  /// Emits record `seq` of `key`; with injected anomalies, key 0 loses its record 1, key 1 sends
  /// it twice and key 2 swaps its records 1 and 2.
  void emit(brook::SourceOutput<Event>& output, int64_t key, int64_t seq) {
    if (injectAnomalies_ && seq == 1 && key == 0)
      return;
    if (injectAnomalies_ && seq == 1 && key == 1)
      output.collect(Event{key, seq});
    if (injectAnomalies_ && key == 2 && (seq == 1 || seq == 2))
      seq = 3 - seq;
    output.collect(Event{key, seq});
  }

  struct Position {
    int64_t key;
    int64_t next;  // the next sequence number to emit
  };
  static constexpr int64_t kFormatVersion = 1;
  static constexpr int64_t kBatch = 1024;

  SequencePlan plan_;
  int64_t rate_;
  bool injectAnomalies_;
  std::vector<Position> positions_;  // ascending keys
  size_t cursor_ = 0;
  std::chrono::steady_clock::time_point started_;
  int64_t emitted_ = 0;  // since open, for the throttle
};

/// Checks each key's sequence against the number it expects next (ValueState), records
/// anomalies in a second state, and reports the key when the input ends.
class SequenceVerifier final : public brook::KeyedProcessFunction<int64_t, Event, KeyReport> {
 public:
  explicit SequenceVerifier(SequencePlan plan) : plan_(plan) {}

  void open(const brook::RuntimeContext& context) override {
    expected_ = &context.getState(brook::ValueStateDescriptor<int64_t>("expected-next-seq"));
    anomalies_ = &context.getState(brook::ValueStateDescriptor<KeyAnomalies>("anomalies"));
  }

  void processElement(const Event& event, Context& ctx, brook::Collector<KeyReport>&) override {
    std::optional<int64_t> stored = expected_->value();
    if (!stored.has_value())
      ctx.timerService().registerEventTimeTimer(kEndOfInputTimer);
    const int64_t expected = stored.value_or(0);
    if (event.seq == expected) {
      expected_->update(expected + 1);
      return;
    }
    KeyAnomalies anomalies = anomalies_->value().value_or(KeyAnomalies{});
    if (event.seq < 0 || event.seq >= plan_.recordsOf(event.key)) {
      ++anomalies.beyondEnd;
    } else if (event.seq > expected) {
      anomalies.holes.emplace_back(expected, event.seq);
      expected_->update(event.seq + 1);
    } else {
      auto hole = std::find_if(anomalies.holes.begin(), anomalies.holes.end(),
                               [&](const auto& h) { return event.seq < h.second; });
      if (hole == anomalies.holes.end() || event.seq < hole->first) {
        ++anomalies.duplicates;
      } else {
        ++anomalies.outOfOrder;
        // Fill the number: the hole shrinks, or splits in two.
        auto [first, end] = *hole;
        hole = anomalies.holes.erase(hole);
        if (event.seq + 1 < end)
          hole = anomalies.holes.emplace(hole, event.seq + 1, end);
        if (first < event.seq)
          anomalies.holes.emplace(hole, first, event.seq);
      }
    }
    anomalies_->update(std::move(anomalies));
  }

  void onTimer(int64_t, OnTimerContext& ctx, brook::Collector<KeyReport>& out) override {
    const int64_t key = ctx.getCurrentKey();
    const int64_t expected = expected_->value().value_or(0);
    KeyAnomalies anomalies = anomalies_->value().value_or(KeyAnomalies{});
    int64_t missing = 0;
    for (const auto& [first, end] : anomalies.holes)
      missing += end - first;
    KeyReport report;
    report.key = key;
    report.records = expected - missing + anomalies.duplicates + anomalies.beyondEnd;
    report.gaps = missing + std::max<int64_t>(0, plan_.recordsOf(key) - expected);
    report.duplicates = anomalies.duplicates;
    report.outOfOrder = anomalies.outOfOrder;
    report.beyondEnd = anomalies.beyondEnd;
    out.collect(report);
  }

 private:
  SequencePlan plan_;
  brook::ValueState<int64_t>* expected_ = nullptr;
  brook::ValueState<KeyAnomalies>* anomalies_ = nullptr;
};

/// Adds up the keys' reports (all under one key, in one subtask) and writes the verdict line
/// when the input ends.
class VerdictFunction final : public brook::KeyedProcessFunction<int64_t, KeyReport, std::string> {
 public:
  explicit VerdictFunction(SequencePlan plan) : plan_(plan) {}

  void open(const brook::RuntimeContext& context) override {
    totals_ = &context.getState(brook::ValueStateDescriptor<VerdictTotals>("totals"));
  }

  void processElement(const KeyReport& report,
                      Context& ctx,
                      brook::Collector<std::string>&) override {
    std::optional<VerdictTotals> stored = totals_->value();
    if (!stored.has_value())
      ctx.timerService().registerEventTimeTimer(kEndOfInputTimer);
    VerdictTotals totals = std::move(stored).value_or(VerdictTotals{});
    ++totals.keys;
    totals.records += report.records;
    totals.expectedRecordsOfKeys += plan_.recordsOf(report.key);
    totals.gaps += report.gaps;
    totals.duplicates += report.duplicates;
    totals.outOfOrder += report.outOfOrder;
    totals.beyondEnd += report.beyondEnd;
    if (report.gaps + report.duplicates + report.outOfOrder + report.beyondEnd > 0)
      noteOffendingKey(totals.offendingKeys, report.key);
    totals_->update(std::move(totals));
  }

  void onTimer(int64_t, OnTimerContext&, brook::Collector<std::string>& out) override {
    const VerdictTotals totals = totals_->value().value_or(VerdictTotals{});
    // Keys with records that never reported lost all of them.
    const int64_t keysWithRecords = std::min(plan_.keys(), plan_.events());
    const int64_t silentKeys = keysWithRecords - totals.keys;
    const int64_t gaps = totals.gaps + (plan_.events() - totals.expectedRecordsOfKeys);
    const bool ok = silentKeys == 0 && gaps == 0 && totals.duplicates == 0 &&
                    totals.outOfOrder == 0 && totals.beyondEnd == 0 &&
                    totals.records == plan_.events();

    std::string line = "exactly-once check: ";
    line += ok ? "OK: " : "FAILED: ";
    line += std::to_string(totals.keys) + " keys";
    if (silentKeys != 0)
      line += " (" + std::to_string(silentKeys) + " keys without any record)";
    line += ", " + std::to_string(totals.records) + " records";
    if (totals.records != plan_.events())
      line += " of " + std::to_string(plan_.events());
    line += ", " + std::to_string(gaps) + " gaps, " + std::to_string(totals.duplicates) +
            " duplicates, " + std::to_string(totals.outOfOrder) + " out of order";
    if (totals.beyondEnd != 0)
      line += ", " + std::to_string(totals.beyondEnd) + " beyond the end";
    if (!totals.offendingKeys.empty()) {
      line += "; first offending keys:";
      for (size_t i = 0; i < totals.offendingKeys.size(); ++i)
        line += (i == 0 ? " " : ", ") + std::to_string(totals.offendingKeys[i]);
    }
    out.collect(std::move(line));
  }

 private:
  /// Keeps the smallest `kOffendingKeysShown` keys, so the verdict names the same keys
  /// whatever order the reports came in.
  static void noteOffendingKey(std::vector<int64_t>& keys, int64_t key) {
    keys.insert(std::upper_bound(keys.begin(), keys.end(), key), key);
    if (keys.size() > kOffendingKeysShown)
      keys.pop_back();
  }

  SequencePlan plan_;
  brook::ValueState<VerdictTotals>* totals_ = nullptr;
};

}  // namespace

BROOK_JOB(exactly_once_check) {
  auto& env = job.env();
  const auto& args = job.args();
  const int64_t keys = args.getInt("keys", 1000);
  const int64_t events = args.getInt("events", 0);
  const int64_t rate = args.getInt("rate", 0);
  const bool injectAnomalies = args.has("inject-anomalies");
  if (keys < 1 || events < 0 || rate < 0)
    throw brook::JobDefinitionError("--keys must be >= 1, --events and --rate >= 0");
  const SequencePlan plan(keys, events);

  env.setRuntimeMode(brook::RuntimeMode::kStreaming);
  auto verdicts = env.fromSource<Event>(
                         [plan, rate, injectAnomalies] {
                           return std::make_unique<SequenceReader>(plan, rate, injectAnomalies);
                         },
                         "Sequences", /*bounded=*/plan.bounded())
                      .uid(args.get("source-uid", "sequence-source"))
                      .keyBy([](const Event& e) { return e.key; })
                      .process(SequenceVerifier(plan))
                      .name("Sequence Verifier")
                      .uid(args.get("verifier-uid", "sequence-verifier"))
                      .keyBy([](const KeyReport&) { return int64_t{0}; })
                      .process(VerdictFunction(plan))
                      .name("Verdict")
                      .uid("verdict")
                      .setParallelism(1);
  verdicts.print().name("Print Verdict").setParallelism(1);
  if (args.has("output"))
    verdicts.writeAsText(args.get("output"))
        .name("Verdict File")
        .uid("verdict-file")
        .setParallelism(1);
}
