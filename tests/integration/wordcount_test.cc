// WordCount end to end: the real job library on the mini-cluster, at several parallelisms and in
// both runtime modes, against counts computed by a plain loop.

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include <brook/brook.h>

#include "integration/test_process.h"
#include "runtime/job_graph.h"
#include "runtime/job_library.h"
#include "runtime/mini_cluster.h"

namespace brook {
namespace {

using testing::TempDir;

// The reference tokenizer, written independently of the job's: lower-case ASCII, split on
// anything that is not a letter or a digit.
std::map<std::string, int64_t> referenceCounts(const std::string& text) {
  std::map<std::string, int64_t> counts;
  std::string word;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 && c < 128) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      ++counts[word];
      word.clear();
    }
  }
  if (!word.empty())
    ++counts[word];
  return counts;
}

std::string generateText(size_t lines, uint32_t seed) {
  static const char* kWords[] = {"Stream", "river", "Flink", "brook", "state",   "window",
                                 "time",   "WATER", "boat",  "x1",    "2024",    "key-group",
                                 "ÄÖÜ",    "naïve", "a",     "the",   "barrier", "watermark"};
  static const char* kSeparators[] = {" ", "  ", ", ", ". ", "; ", "\t", "--", "!", "(", ")"};
  std::mt19937 gen(seed);
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    int n = static_cast<int>(gen() % 12);
    for (int w = 0; w < n; ++w) {
      text += kWords[gen() % (sizeof(kWords) / sizeof(kWords[0]))];
      text += kSeparators[gen() % (sizeof(kSeparators) / sizeof(kSeparators[0]))];
    }
    text += i % 7 == 0 ? "\r\n" : "\n";
  }
  return text;
}

struct WordCountRun {
  runtime::JobStatus status;
  std::vector<std::string> lines;
};

WordCountRun runWordCount(const std::string& input, int parallelism, const std::string& mode) {
  TempDir out;
  auto library = runtime::JobLibrary::load(BROOK_WORDCOUNT_JOB);
  EXPECT_TRUE(library.ok()) << library.status();
  Configuration config;
  config.set("parallelism.default", std::to_string(parallelism));
  config.set("execution.runtime-mode", mode);
  StreamExecutionEnvironment env(config.values());
  auto args = JobArgs::parse({"--input", input, "--output", out.path() + "/counts"});
  EXPECT_TRUE((*library)->plan(env, args).ok());
  auto graph = runtime::buildJobGraph(env, config, "wordcount");
  EXPECT_TRUE(graph.ok()) << graph.status();
  runtime::MiniCluster cluster;
  auto result = cluster.execute(*graph, args);
  return {result.status, testing::readPartFiles(out.path() + "/counts")};
}

std::pair<std::string, int64_t> parseLine(const std::string& line) {
  auto comma = line.rfind(',');
  return {line.substr(0, comma), std::stoll(line.substr(comma + 1))};
}

class WordCountTest : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(WordCountTest, CountsMatchTheReference) {
  auto [parallelism, mode] = GetParam();
  TempDir data;
  std::string text = generateText(20000, 7);
  std::string path = data.path() + "/input.txt";
  std::ofstream(path) << text;
  auto expected = referenceCounts(text);

  auto run = runWordCount(path, parallelism, mode);
  ASSERT_EQ(run.status, runtime::JobStatus::kFinished);
  std::map<std::string, int64_t> finalCounts;
  std::map<std::string, int64_t> lastSeen;
  for (const auto& line : run.lines) {
    auto [word, count] = parseLine(line);
    if (mode == "BATCH") {
      EXPECT_EQ(finalCounts.count(word), 0u) << "BATCH wrote '" << word << "' twice";
    } else {
      // STREAMING: a word's updates live in one part file and count up by one.
      EXPECT_EQ(count, lastSeen[word] + 1) << word;
      lastSeen[word] = count;
    }
    finalCounts[word] = count;
  }
  EXPECT_EQ(finalCounts, expected);
}

INSTANTIATE_TEST_SUITE_P(ModesAndParallelism,
                         WordCountTest,
                         ::testing::Combine(::testing::Values(1, 2, 4),
                                            ::testing::Values("BATCH", "STREAMING")),
                         [](const auto& info) {
                           return std::get<1>(info.param) + "_p" +
                                  std::to_string(std::get<0>(info.param));
                         });

TEST(WordCountDirectoryTest, ReadsEveryFileOfADirectory) {
  TempDir data;
  std::string all;
  for (int f = 0; f < 5; ++f) {
    std::string text = generateText(500, static_cast<uint32_t>(f));
    std::ofstream(data.path() + "/part" + std::to_string(f) + ".txt") << text;
    all += text;
    all += "\n";
  }
  auto run = runWordCount(data.path(), 3, "BATCH");
  ASSERT_EQ(run.status, runtime::JobStatus::kFinished);
  std::map<std::string, int64_t> counts;
  for (const auto& line : run.lines)
    counts.insert(parseLine(line));
  EXPECT_EQ(counts, referenceCounts(all));
}

TEST(WordCountDemoTest, TheShippedTextCountsAsTheReferenceSays) {
  std::string path = std::string(BROOK_SOURCE_DIR) + "/examples/data/rivers.txt";
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  auto run = runWordCount(path, 2, "BATCH");
  ASSERT_EQ(run.status, runtime::JobStatus::kFinished);
  std::map<std::string, int64_t> counts;
  for (const auto& line : run.lines)
    counts.insert(parseLine(line));
  EXPECT_EQ(counts, referenceCounts(text));
  EXPECT_EQ(counts["the"], referenceCounts(text)["the"]);
}

}  // namespace
}  // namespace brook
