// WordCount: counts the words of a text file or directory.
//
//   brook run --local wordcount.so -- --input PATH --output DIR
//
// Words are maximal runs of ASCII letters and digits, lower-cased; every other byte separates
// words. The output holds one `word,count` line per distinct word across the part files of DIR.
// In STREAMING mode every update is written, so the last line of a word holds its count.

#include <cstdint>
#include <string>
#include <utility>

#include <brook/brook.h>

namespace {

void tokenize(const std::string& line, brook::Collector<std::string>& out) {
  std::string word;
  for (char c : line) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      word.push_back(c);
    } else if (!word.empty()) {
      out.collect(std::move(word));
      word.clear();
    }
  }
  if (!word.empty())
    out.collect(std::move(word));
}

}  // namespace

BROOK_JOB(wordcount) {
  auto& env = job.env();
  env.readTextFile(job.args().get("input"))
      .flatMap(tokenize)
      .name("Tokenizer")
      .map([](std::string word) { return std::pair<std::string, int64_t>(std::move(word), 1); })
      .keyBy([](const std::pair<std::string, int64_t>& p) { return p.first; })
      .sum([](std::pair<std::string, int64_t>& p) -> int64_t& { return p.second; })
      .name("Counter")
      .map([](std::pair<std::string, int64_t> p) {
        std::string line = std::move(p.first);
        line += ',';
        line += std::to_string(p.second);
        return line;
      })
      .name("Formatter")
      .writeAsText(job.args().get("output"))
      .name("Sink: Word Counts");
}
