#pragma once

/// Nexmark events as JSON lines, one event per line:
///   {"type":"bid","auction":1000,"bidder":1001,"price":2500,"channel":"Google",...}
/// with the model's field names, "type" being "person", "auction" or "bid".

#include <string>
#include <string_view>

#include <absl/status/statusor.h>

#include <brook/nexmark/model.h>

namespace brook::nexmark {

/// Appends `event` as one JSON object, without a line break.
void appendJson(const Event& event, std::string& out);

/// Parses one line written by appendJson (or by another program: fields in any order, JSON
/// whitespace and string escapes allowed; unknown fields are an error). The error names the
/// field and the column where the line went wrong.
absl::StatusOr<Event> parseEventJson(std::string_view line);

}  // namespace brook::nexmark
