// brook-nexmark generate, run as a process: its JSON lines are the generator's events, and bad
// flags end it with an error that names them.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <brook/nexmark/generator.h>
#include <brook/nexmark/json.h>

#include "common/testing/files.h"

namespace brook::nexmark {
namespace {

using ::testing::HasSubstr;

struct ToolRun {
  int exitCode = -1;
  std::string stderrText;
};

// Runs the tool with `arguments` (shell words), standard error kept in `tmp`.
ToolRun runTool(const testing::TempDir& tmp, const std::string& arguments) {
  const std::filesystem::path errors = tmp.path() / "stderr.txt";
  const std::string command =
      std::string(BROOK_NEXMARK_TOOL) + " " + arguments + " 2>" + errors.string();
  const int status = std::system(command.c_str());
  ToolRun run;
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.stderrText = testing::readFile(errors);
  return run;
}

TEST(NexmarkToolTest, GenerateWritesTheGeneratorsEventsAsJsonLines) {
  testing::TempDir tmp;
  const std::filesystem::path file = tmp.path() / "events.jsonl";
  const ToolRun run =
      runTool(tmp, "generate --events.num 2000 --tps 1000 --out-of-order-group-size 5 --output " +
                       file.string());
  ASSERT_EQ(run.exitCode, 0) << run.stderrText;
  GeneratorConfig config;
  config.tps = 1'000;
  config.outOfOrderGroupSize = 5;
  std::ifstream in(file);
  int64_t n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    absl::StatusOr<Event> event = parseEventJson(line);
    ASSERT_TRUE(event.ok()) << event.status() << " in line " << n + 1;
    ASSERT_EQ(*event, generateEvent(config, n)) << "line " << n + 1;
  }
  EXPECT_EQ(n, 2000);
}

TEST(NexmarkToolTest, BadFlagsFailNamingThem) {
  testing::TempDir tmp;
  ToolRun run = runTool(tmp, "generate --events.num 10 --tps fast");
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.stderrText, HasSubstr("--tps must be an integer, got 'fast'"));
  run = runTool(tmp, "generate --tps 5 >/dev/null");
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.stderrText, HasSubstr("--events.num is required"));
  run = runTool(tmp, "generate --events.num 10 --hot-bidders-ratio 0 >/dev/null");
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.stderrText, HasSubstr("--hot-bidders-ratio must be between 1 and"));
  run = runTool(tmp, "generate --events.num 10 --colour red >/dev/null");
  EXPECT_NE(run.exitCode, 0);
  EXPECT_THAT(run.stderrText, HasSubstr("--colour"));
}

}  // namespace
}  // namespace brook::nexmark
