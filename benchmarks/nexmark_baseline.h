#pragma once

// The COST baselines of the Nexmark queries: each query computed by a hand-written
// single-threaded loop over the generated events (no engine, no serialization, no threads: plain
// loops and absl::flat_hash_map), for the Nexmark benchmark to set the engine's throughput
// against, and for tests to check the engine's rows against.
//
// The baselines compute the final result of each query's SQL definition in the nexmark/nexmark
// suite, on input in event-time order (as the generator makes it), so that no event is late for
// the queries' watermarks (4 s behind):
//
//   q0   auction,bidder,price,dateTime,extra of every bid
//   q1   the same with the price in euros, price * 0.908 as "X.YYY" (integer arithmetic)
//   q2   auction,price of the bids on auctions whose id is a multiple of 123
//   q3   name,city,state,auctionId of the auctions in category 10 whose seller lives in OR, ID
//        or CA (an inner join on seller = person id, either side arriving first)
//   q4   category,avg: per category, the truncated integer average over auctions of their
//        highest bid with auction = A.id and A.dateTime <= B.dateTime <= A.expires
//   q5   auction,num: per hopping window (size 10 s, slide 2 s), the auctions with the most bids
//   q7   auction,price,bidder,dateTime,extra: per 10 s tumbling window, the bids whose price is
//        the window's highest and whose dateTime is in [window end - 10 s, window end]
//   q8   id,name,windowStart: the persons who joined and opened an auction in the same 10 s
//        tumbling window
//   q11  bidder,count,start,end: the bids per bidder session (gap 10 s; end = last bid + 10 s)
//   q12  bidder,count,start,end per 10 s of wall-clock time: a plain hash-map count, measured
//        for its throughput only (processing time makes its rows differ from run to run)
//
// Times are epoch milliseconds. Rows come out per window in window order, and within a window
// (or at the end of the input) sorted by key; the engine writes them in no fixed order, so
// comparisons sort both sides.

#include <cstdint>
#include <string>
#include <vector>

#include <brook/nexmark/generator.h>
#include <brook/nexmark/model.h>

namespace brook::benchmarks {

/// The queries that have a baseline, in the order of the suite: "q0", "q1", ..., "q12".
const std::vector<std::string>& baselineQueries();

/// Whether `query` has rows that depend only on the events (all of baselineQueries but q12).
bool baselineIsDeterministic(const std::string& query);

/// What a baseline run computed: its rows, counted and hashed but not formatted.
struct BaselineResult {
  /// The events consumed.
  int64_t events = 0;
  /// The result rows.
  int64_t rows = 0;
  /// The sum of a hash of each row's fields: independent of the rows' order, the same on every
  /// run and machine.
  uint64_t checksum = 0;
};

/// Runs the baseline of `query` over events 0 .. config.eventsNum - 1 that `config` generates,
/// each generated into the same Event in turn, as the engine's source does. Throws
/// std::invalid_argument for a query without a baseline or an unbounded config (eventsNum 0).
BaselineResult runBaseline(const std::string& query, const nexmark::GeneratorConfig& config);

/// Generates events 0 .. config.eventsNum - 1 and does nothing else: the share of the
/// baselines' time that is the generator's.
BaselineResult runGeneratorOnly(const nexmark::GeneratorConfig& config);

/// The final rows of `query` for `events` as CSV lines, the format the nexmark job writes
/// (columns in the order of the query's SQL definition, comma-separated, times in epoch ms).
/// The events are taken in dateTime order (a stable sort: equal times keep their order). Throws
/// std::invalid_argument for q12 and for a query without a baseline.
std::vector<std::string> baselineRows(const std::string& query,
                                      const std::vector<nexmark::Event>& events);

}  // namespace brook::benchmarks
