#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <brook/functions.h>

namespace brook {

RuntimeMode parseRuntimeMode(const std::string& text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (upper == "STREAMING")
    return RuntimeMode::kStreaming;
  if (upper == "BATCH")
    return RuntimeMode::kBatch;
  if (upper == "AUTOMATIC")
    return RuntimeMode::kAutomatic;
  throw std::invalid_argument(
      "execution.runtime-mode: expected STREAMING, BATCH or AUTOMATIC, got '" + text + "'");
}

const char* runtimeModeName(RuntimeMode mode) {
  switch (mode) {
    case RuntimeMode::kStreaming:
      return "STREAMING";
    case RuntimeMode::kBatch:
      return "BATCH";
    case RuntimeMode::kAutomatic:
      return "AUTOMATIC";
  }
  return "UNKNOWN";
}

namespace {
// The word after a key is its value unless it is another key; "-5" and "-0.5" are values.
bool isValue(const std::string& word) {
  if (word.empty() || word[0] != '-' || word == "-")
    return true;
  return word.size() > 1 && (std::isdigit(static_cast<unsigned char>(word[1])) != 0 ||
                             (word[1] == '.' && word.size() > 2));
}
}  // namespace

JobArgs JobArgs::parse(const std::vector<std::string>& argv) {
  JobArgs args;
  args.raw_ = argv;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 2 || a[0] != '-') {
      throw JobDefinitionError("job argument '" + a + "' is not of the form --key value");
    }
    std::string key = a.substr(a[1] == '-' ? 2 : 1);
    if (key.empty())
      throw JobDefinitionError("empty job argument name in '" + a + "'");
    auto eq = key.find('=');
    if (eq == 0)
      throw JobDefinitionError("empty job argument name in '" + a + "'");
    if (eq != std::string::npos) {
      args.values_[key.substr(0, eq)] = key.substr(eq + 1);
    } else if (i + 1 < argv.size() && isValue(argv[i + 1])) {
      args.values_[key] = argv[++i];
    } else {
      args.values_[key] = "true";
    }
  }
  return args;
}

const std::string& JobArgs::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    throw JobDefinitionError("missing required job argument --" + key);
  }
  return it->second;
}

std::string JobArgs::get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

int64_t JobArgs::getInt(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end())
    return fallback;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size())
      throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw JobDefinitionError("job argument --" + key + " must be an integer, got '" + it->second +
                             "'");
  }
}

}  // namespace brook
