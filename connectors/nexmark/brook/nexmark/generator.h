#pragma once

/// The Nexmark event generator, following the published generator of Apache Beam's Nexmark
/// suite (which the nexmark/nexmark Flink suite uses): of every 50 events 1 is a new person, 3
/// are new auctions and 46 are bids; sellers and bidders are picked among the most recent
/// people and bids go to auctions still in flight, with "hot" auctions, sellers and bidders
/// picked more often. Event number n (0-based) is generated from n alone, with a
/// java.util.Random seeded by its id, so any share of the sequence can be generated on its own
/// and the same configuration always gives the same events: those of a single Beam generator
/// (numEventGenerators 1), field for field.
///
/// Where the suites differ or are not deterministic:
/// - The proportions are configurable as in nexmark/nexmark (Beam fixes them at 1/3/46).
/// - Timestamps space events by 1e6 / tps microseconds as a double, as nexmark/nexmark does
///   (Beam rounds the delay to whole microseconds, 0 at the default rate of 10,000,000).
/// - Bids have nexmark/nexmark's channel and url, drawn after the price as it does (one in two
///   bids from the 4 hot channels, the others from "channel-0".."channel-9999"), but each url
///   comes from a java.util.Random seeded by its channel instead of an unseeded one, so that
///   urls are deterministic too. nexmark/nexmark's version that added them also added
///   FIRST_PERSON_ID to the bidder twice; here bidders are person ids, as in Beam.

#include <cstdint>
#include <string>

#include <brook/nexmark/model.h>

namespace brook {
class JobArgs;
}

namespace brook::nexmark {

/// The generator's configuration; names and defaults are those of the Nexmark suites.
struct GeneratorConfig {
  /// `events.num`: the number of events; 0 generates without end.
  int64_t eventsNum = 0;
  /// `tps`: events per second of event time (Beam's firstEventRate), which spaces the
  /// events' timestamps; with `rateLimited` also the wall-clock rate of the source.
  int64_t tps = 10'000'000;
  /// `rate-limited`: emit at `tps` events per second of wall-clock time, not as fast as the
  /// job takes them.
  bool rateLimited = false;
  /// `base-time`: the timestamp (epoch ms) of event 0, or `now`: the wall-clock time when the
  /// arguments are read (the job is planned), and `eventTimeIsWallClock`.
  int64_t baseTime = 1'436'918'400'000;  // 2015-07-15T00:00:00Z
  /// Set by `base-time now`: with `rateLimited`, each event is emitted when the wall clock
  /// reaches its timestamp (not at the rate since the source opened), so that event time
  /// follows the wall clock and a sink can measure latency as its clock minus event time.
  bool eventTimeIsWallClock = false;
  /// `first-event-id`: the id of event 0; persons and auctions are numbered from it.
  int64_t firstEventId = 0;
  /// `person.proportion`, `auction.proportion`, `bid.proportion`: of every
  /// (sum) events, this many are persons, auctions and bids.
  int64_t personProportion = 1;
  int64_t auctionProportion = 3;
  int64_t bidProportion = 46;
  /// `hot-auction-ratio`, `hot-sellers-ratio`, `hot-bidders-ratio`: one in so many auctions,
  /// sellers and bidders is picked among the hot ones.
  int64_t hotAuctionRatio = 2;
  int64_t hotSellersRatio = 4;
  int64_t hotBiddersRatio = 4;
  /// `num-active-people`: sellers and bidders are picked among the most recent this many.
  int64_t numActivePeople = 1000;
  /// `num-in-flight-auctions`: bids go to the most recent this many auctions.
  int64_t numInFlightAuctions = 100;
  /// `avg-person-byte-size`, `avg-auction-byte-size`, `avg-bid-byte-size`: the `extra` field
  /// pads events to about this size.
  int64_t avgPersonByteSize = 200;
  int64_t avgAuctionByteSize = 500;
  int64_t avgBidByteSize = 100;
  /// `out-of-order-group-size`: events are shuffled within groups of this many (1: in order).
  int64_t outOfOrderGroupSize = 1;

  /// Reads the settings above from job arguments named as above (`--events.num 1000000
  /// --tps 100000 ...`), the rest keeping their defaults. Throws std::invalid_argument naming
  /// the argument and what is wrong with it.
  static GeneratorConfig fromArgs(const JobArgs& args);

  /// The microseconds of event time between two consecutive events.
  double interEventDelayMicros() const { return 1e6 / static_cast<double>(tps); }
  int64_t totalProportion() const {
    return personProportion + auctionProportion + bidProportion;
  }
};

/// Event number `eventNumber` (0-based) of the sequence that `config` describes. `config` must
/// hold values that fromArgs accepts (tps and the ratios at least 1, proportions not all 0).
Event generateEvent(const GeneratorConfig& config, int64_t eventNumber);

/// Like generateEvent, into `event`, reusing the strings it holds.
void generateEvent(const GeneratorConfig& config, int64_t eventNumber, Event& event);

/// The timestamp (epoch ms) of event number `eventNumber`.
int64_t eventTimestamp(const GeneratorConfig& config, int64_t eventNumber);

}  // namespace brook::nexmark
