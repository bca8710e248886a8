#include "queries.h"

#include <chrono>

namespace nexmark {

const std::vector<Query>& queries() {
  static const std::vector<Query> all = {
      {"q0", "pass-through: every bid", q0},
      {"q1", "currency conversion: bid prices in euros (price * 0.908)", q1},
      {"q2", "selection: bids on auctions whose id is a multiple of 123", q2},
      {"q3", "local item suggestion: sellers in OR, ID or CA of auctions in category 10", q3},
      {"q4", "average closing price per category", q4},
      {"q5", "hot items: the auctions with the most bids per 10 s window sliding by 2 s", q5},
      {"q7", "highest bid of each 10 s tumbling window", q7},
      {"q8", "new users: persons who opened an auction in the 10 s window they joined", q8},
      {"q11", "bids per bidder per session (gap 10 s)", q11},
      {"q12", "bids per bidder per 10 s processing-time window", q12},
  };
  return all;
}

void buildQuery(const std::string& name,
                const brook::DataStream<Event>& events,
                const QueryOutput& output) {
  std::string known;
  for (const Query& query : queries()) {
    if (name == query.name) {
      query.build(events, output);
      return;
    }
    known += known.empty() ? "" : ", ";
    known += query.name;
  }
  throw brook::JobDefinitionError("--query " + name + " is not a Nexmark query; the queries are " +
                                  known);
}

brook::WatermarkStrategy<Event> nexmarkWatermarks() {
  return brook::WatermarkStrategy<Event>::forBoundedOutOfOrderness(std::chrono::seconds(4))
      .withTimestampAssigner([](const Event& event, int64_t) { return event.dateTime(); });
}

}  // namespace nexmark
