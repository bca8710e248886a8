// brook-nexmark: the Nexmark generator's events as JSON lines.
//
//   brook-nexmark generate --events.num 1000000 [--tps 100000 ...] [--output events.jsonl]
//
// The generator flags are the job arguments of the Nexmark source (GeneratorConfig::fromArgs),
// so a file written here and the source of a job with the same flags hold the same events.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <brook/functions.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/json.h>

namespace {

using brook::nexmark::GeneratorConfig;

// A generator flag: its name (without "--"), its help and its default as text.
struct GeneratorFlag {
  std::string name;
  std::string help;
  std::string defaultValue;
  std::string value;  // set by CLI11 when given
};

std::vector<GeneratorFlag> generatorFlags() {
  const GeneratorConfig d;
  auto text = [](int64_t v) {
    return std::to_string(v);
  };
  return {
      {"events.num", "number of events to write (required; at least 1)", "", ""},
      {"tps", "events per second of event time: spaces the events' timestamps", text(d.tps), ""},
      {"base-time", "timestamp (epoch ms) of the first event, or now", text(d.baseTime), ""},
      {"first-event-id", "id of the first event; seeds, person and auction ids follow it",
       text(d.firstEventId), ""},
      {"person.proportion", "persons among every (sum of proportions) events",
       text(d.personProportion), ""},
      {"auction.proportion", "auctions among every (sum of proportions) events",
       text(d.auctionProportion), ""},
      {"bid.proportion", "bids among every (sum of proportions) events", text(d.bidProportion), ""},
      {"hot-auction-ratio", "one in this many bids goes to a random auction, the rest to a hot one",
       text(d.hotAuctionRatio), ""},
      {"hot-sellers-ratio",
       "one in this many auctions is by a random seller, the rest by a hot one",
       text(d.hotSellersRatio), ""},
      {"hot-bidders-ratio", "one in this many bids is by a random bidder, the rest by a hot one",
       text(d.hotBiddersRatio), ""},
      {"num-active-people", "sellers and bidders are picked among the most recent this many people",
       text(d.numActivePeople), ""},
      {"num-in-flight-auctions", "bids go to the most recent this many auctions",
       text(d.numInFlightAuctions), ""},
      {"avg-person-byte-size", "pad persons to about this many bytes", text(d.avgPersonByteSize),
       ""},
      {"avg-auction-byte-size", "pad auctions to about this many bytes", text(d.avgAuctionByteSize),
       ""},
      {"avg-bid-byte-size", "pad bids to about this many bytes", text(d.avgBidByteSize), ""},
      {"out-of-order-group-size", "shuffle the events within groups of this many (1: in order)",
       text(d.outOfOrderGroupSize), ""},
  };
}

// Writes events 0 .. eventsNum-1 of `config` to `out`, with `rateLimited` at tps events per
// second of wall-clock time; false (with errno) on a write error.
bool writeEvents(const GeneratorConfig& config, std::FILE* out) {
  constexpr size_t kFlushBytes = 1 << 20;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  // When rate limited, write at least every 10 ms worth of events.
  const int64_t paceEvents = std::max<int64_t>(1, config.tps / 100);
  std::string buffer;
  buffer.reserve(kFlushBytes + 4096);
  brook::nexmark::Event event;
  for (int64_t n = 0; n < config.eventsNum; ++n) {
    if (config.rateLimited && n % paceEvents == 0) {
      if (!buffer.empty()) {
        if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size() ||
            std::fflush(out) != 0)
          return false;
        buffer.clear();
      }
      const double dueSeconds = static_cast<double>(n) / static_cast<double>(config.tps);
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(dueSeconds)));
    }
    brook::nexmark::generateEvent(config, n, event);
    brook::nexmark::appendJson(event, buffer);
    buffer += '\n';
    if (buffer.size() >= kFlushBytes || n + 1 == config.eventsNum) {
      if (std::fwrite(buffer.data(), 1, buffer.size(), out) != buffer.size())
        return false;
      buffer.clear();
    }
  }
  return std::fflush(out) == 0;
}

int generate(std::vector<GeneratorFlag>& flags, bool rateLimited, const std::string& output) {
  // The flags go through the job-argument parser, so that the tool and the Nexmark source
  // validate them alike.
  std::vector<std::string> argv;
  for (const GeneratorFlag& flag : flags) {
    if (!flag.value.empty() || flag.name == "events.num") {
      argv.emplace_back("--" + flag.name);
      argv.emplace_back(flag.value);
    }
  }
  if (rateLimited)
    argv.emplace_back("--rate-limited");
  GeneratorConfig config;
  try {
    config = GeneratorConfig::fromArgs(brook::JobArgs::parse(argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brook-nexmark generate: %s\n", e.what());
    return 2;
  }
  if (config.eventsNum == 0) {
    std::fprintf(stderr,
                 "brook-nexmark generate: --events.num must be at least 1 (a file is bounded)\n");
    return 2;
  }
  std::FILE* out = stdout;
  if (!output.empty() && output != "-") {
    out = std::fopen(output.c_str(), "wb");
    if (out == nullptr) {
      std::fprintf(stderr, "brook-nexmark generate: cannot open '%s' for writing: %s\n",
                   output.c_str(), std::strerror(errno));
      return 1;
    }
  }
  bool ok = writeEvents(config, out);
  const int error = errno;
  if (out != stdout)
    ok = std::fclose(out) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "brook-nexmark generate: cannot write '%s': %s\n",
                 output.empty() ? "standard output" : output.c_str(), std::strerror(error));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tools for the Nexmark benchmark's events (persons, auctions and bids).",
               "brook-nexmark"};
  app.require_subcommand(1);

  CLI::App* generateCommand = app.add_subcommand(
      "generate",
      "Writes the Nexmark generator's events as JSON lines, one event per line, the same events "
      "as a job's Nexmark source with the same flags (Apache Beam's generator: of every 50 "
      "events 1 person, 3 auctions and 46 bids).");
  std::vector<GeneratorFlag> flags = generatorFlags();
  for (GeneratorFlag& flag : flags) {
    CLI::Option* option = generateCommand->add_option("--" + flag.name, flag.value, flag.help);
    option->type_name(flag.name == "base-time" ? "INT|now" : "INT");
    if (flag.defaultValue.empty())
      option->required();
    else
      option->default_str(flag.defaultValue);
  }
  bool rateLimited = false;
  generateCommand->add_flag("--rate-limited", rateLimited,
                            "write at --tps events per second of wall-clock time");
  std::string output;
  generateCommand->add_option("-o,--output", output, "file to write (default: standard output)")
      ->type_name("FILE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return generate(flags, rateLimited, output);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brook-nexmark generate: %s\n", e.what());
    return 1;
  }
}
