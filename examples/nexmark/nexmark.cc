// Nexmark: the queries of the Nexmark benchmark over generated or recorded auction events.
//
//   brook run [--local] [-p N] nexmark.so -- --query q5
//       [--events.num N] [--tps R] [--rate-limited] [...generator settings...]
//       [--input events.jsonl] [--output DIR | --print | --latency-output DIR]
//
// Events come from the Nexmark generator (settings named as in the Nexmark suites; see
// connectors/nexmark/brook/nexmark/generator.h), unbounded unless --events.num is given, or
// from a JSON-lines file written by `brook-nexmark generate` (--input). Results are CSV lines
// (the query's columns in the order of its SQL definition, times in epoch milliseconds) in part
// files of --output DIR, printed with --print, or made and dropped (the benchmark's blackhole
// sink) without either. --latency-output DIR drops the rows too, and writes per sink subtask a
// histogram of how many milliseconds of wall-clock time each row came after the event time that
// made it (q0: its bid, q5 and the other windowed queries: its window's end); run it with
// --rate-limited and --base-time now, so that event time follows the wall clock.
//
// q3 joins incrementally: it writes each match when its second side arrives. q4's result is an
// update stream: it writes a line each time a category's average changes, so a category's last
// line is its final average. The other queries write final rows only.

#include <string>

#include <brook/brook.h>
#include <brook/nexmark/generator.h>
#include <brook/nexmark/source.h>

#include "queries.h"

BROOK_JOB(nexmark) {
  auto& env = job.env();
  const auto& args = job.args();
  const std::string query = args.get("query");

  brook::DataStream<nexmark::Event> events =
      args.has("input")
          ? brook::nexmark::nexmarkJsonSource(env, args.get("input"), nexmark::nexmarkWatermarks())
          : brook::nexmark::nexmarkSource(env, brook::nexmark::GeneratorConfig::fromArgs(args),
                                          nexmark::nexmarkWatermarks());
  const int outputs = int{args.has("output")} + int{args.has("print")} +
                      int{args.has("latency-output")};
  if (outputs > 1)
    throw brook::JobDefinitionError("--output, --print and --latency-output exclude each other");
  const nexmark::QueryOutput output =
      args.has("output")           ? nexmark::QueryOutput::files(args.get("output"))
      : args.has("print")          ? nexmark::QueryOutput::print()
      : args.has("latency-output") ? nexmark::QueryOutput::latency(args.get("latency-output"))
                                   : nexmark::QueryOutput::discard();
  nexmark::buildQuery(query, events, output);
}
