// The brook command as a user runs it: a real process, its exit code and what it prints.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_process.h"

namespace brook {
namespace {

using ::testing::HasSubstr;
using testing::runProcess;
using testing::TempDir;

const std::string kBrook = BROOK_CLI_PATH;
const std::string kJobs = BROOK_JOBS_DIR;

std::string job(const std::string& name) {
  return kJobs + "/" + name + ".so";
}

TEST(CliTest, RunsWordCountAndReportsFinished) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/in.txt") << "b a b\nc b\n";
  auto r = runProcess(kBrook + " run --local -p 2 " + BROOK_WORDCOUNT_JOB + " -- --input " +
                      tmp.path() + "/in.txt --output " + tmp.path() + "/out");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Job has been submitted with JobID "));
  EXPECT_THAT(r.err, HasSubstr("switched to RUNNING"));
  EXPECT_THAT(r.err, HasSubstr("switched to FINISHED"));
  auto lines = testing::readPartFiles(tmp.path() + "/out");
  std::sort(lines.begin(), lines.end());
  // STREAMING (the default) writes every update.
  EXPECT_EQ(lines, (std::vector<std::string>{"a,1", "b,1", "b,2", "b,3", "c,1"}));
}

TEST(CliTest, RuntimeModeAndParallelismComeFromDynamicProperties) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/in.txt") << "b a b\nc b\n";
  auto r = runProcess(kBrook + " run --local -D parallelism.default=3 -D " +
                      "execution.runtime-mode=BATCH " + BROOK_WORDCOUNT_JOB + " -- --input " +
                      tmp.path() + "/in.txt --output " + tmp.path() + "/out");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto lines = testing::readPartFiles(tmp.path() + "/out");
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"a,1", "b,3", "c,1"}));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path() + "/out"),
                          std::filesystem::directory_iterator{}),
            3);
}

TEST(CliTest, PrintPrefixesSubtaskNumbersOnlyWhenParallel) {
  auto one = runProcess(kBrook + " run --local -p 1 " + job("print_job") + " -- --count 3");
  ASSERT_EQ(one.exitCode, 0) << one.err;
  EXPECT_EQ(one.out, "1\n2\n3\n");
  auto two = runProcess(kBrook + " run --local -p 2 " + job("print_job") + " -- --count 4");
  ASSERT_EQ(two.exitCode, 0) << two.err;
  // The sequence source gives subtask 1 the numbers 1-2 and subtask 2 the numbers 3-4.
  EXPECT_THAT(two.out, HasSubstr("1> 1\n"));
  EXPECT_THAT(two.out, HasSubstr("1> 2\n"));
  EXPECT_THAT(two.out, HasSubstr("2> 3\n"));
  EXPECT_THAT(two.out, HasSubstr("2> 4\n"));
}

TEST(CliTest, MissingInputPathIsAClearError) {
  TempDir tmp;
  auto r = runProcess(kBrook + " run --local " + std::string(BROOK_WORDCOUNT_JOB) +
                      " -- --input /nonexistent/brook.txt --output " + tmp.path() + "/out");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("'/nonexistent/brook.txt' does not exist"));
}

TEST(CliTest, MissingJobArgumentIsNamed) {
  auto r = runProcess(kBrook + " run --local " + std::string(BROOK_WORDCOUNT_JOB) + " -- --input " +
                      BROOK_SOURCE_DIR + "/examples/data/rivers.txt");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("missing required job argument --output"));
  auto s = runProcess(kBrook + " run --local " + std::string(BROOK_WORDCOUNT_JOB));
  EXPECT_EQ(s.exitCode, 1);
  EXPECT_THAT(s.err, HasSubstr("missing required job argument --input"));
}

TEST(CliTest, UnwritableOutputFailsTheJobAndNamesThePath) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/in.txt") << "a\n";
  std::ofstream(tmp.path() + "/file") << "not a directory\n";
  auto r = runProcess(kBrook + " run --local -p 1 " + std::string(BROOK_WORDCOUNT_JOB) +
                      " -- --input " + tmp.path() + "/in.txt --output " + tmp.path() + "/file/out");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("switched to FAILED"));
  EXPECT_THAT(r.err, HasSubstr(tmp.path() + "/file/out"));
}

TEST(CliTest, ThrowingUserFunctionFailsWithOperatorAndMessage) {
  auto r = runProcess(kBrook + " run --local -p 2 " + job("failing_job"));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("switched to FAILED"));
  EXPECT_THAT(r.err, HasSubstr("record 777 is cursed"));
  EXPECT_THAT(r.err, HasSubstr("Curse Checker"));
}

TEST(CliTest, LibraryThatIsNotABrookJobIsRefused) {
  auto r = runProcess(kBrook + " run --local " + std::string(BROOK_API_LIBRARY));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("is not a Brook job"));
  TempDir tmp;
  std::ofstream(tmp.path() + "/garbage.so") << "this is not an ELF file";
  auto g = runProcess(kBrook + " run --local " + tmp.path() + "/garbage.so");
  EXPECT_EQ(g.exitCode, 1);
  EXPECT_THAT(g.err, HasSubstr("is not a loadable job library"));
  auto m = runProcess(kBrook + " run --local " + tmp.path() + "/missing.so");
  EXPECT_EQ(m.exitCode, 1);
  EXPECT_THAT(m.err, HasSubstr("does not exist"));
}

TEST(CliTest, OtherAbiVersionIsRefused) {
  auto r = runProcess(kBrook + " run --local " + job("other_abi_job"));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("ABI version 999"));
}

TEST(CliTest, UnstablePlanIsCaughtByTheFingerprintCheck) {
  auto r = runProcess(kBrook + " run --local " + job("unstable_plan_job"));
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_THAT(r.err, HasSubstr("plans a different graph each time"));
}

TEST(CliTest, UnknownFlagsAndBadValuesExitWithUsageErrors) {
  auto r = runProcess(kBrook + " run --local --frobnicate " + job("print_job"));
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_THAT(r.err, HasSubstr("--frobnicate"));
  auto p = runProcess(kBrook + " run --local -p 0 " + job("print_job"));
  EXPECT_EQ(p.exitCode, 2);
  EXPECT_THAT(p.err, HasSubstr("parallelism"));
  auto d = runProcess(kBrook + " run --local -D novalue " + job("print_job"));
  EXPECT_EQ(d.exitCode, 2);
  EXPECT_THAT(d.err, HasSubstr("key=value"));
  auto mode =
      runProcess(kBrook + " run --local -D execution.runtime-mode=SOMETIMES " + job("print_job"));
  EXPECT_EQ(mode.exitCode, 2);
  EXPECT_THAT(mode.err, HasSubstr("execution.runtime-mode"));
  auto unknown = runProcess(kBrook + " run --local -D parallelism.defualt=2 " + job("print_job"));
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown configuration key 'parallelism.defualt'"));
  auto range =
      runProcess(kBrook + " run --local -D taskmanager.memory.segment-size=1b " + job("print_job"));
  EXPECT_EQ(range.exitCode, 2);
  EXPECT_THAT(range.err, HasSubstr("taskmanager.memory.segment-size"));
  auto none = runProcess(kBrook);
  EXPECT_EQ(none.exitCode, 2);
}

TEST(CliTest, ConfigurationFileIsReadAndItsErrorsNameTheLine) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/brook.yaml") << "# comment\nparallelism.default: 1\n";
  auto r = runProcess("env BROOK_CONF_DIR=" + tmp.path() + " " + kBrook + " run --local " +
                      job("print_job") + " -- --count 2");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "1\n2\n");  // parallelism 1: no prefixes
  std::ofstream(tmp.path() + "/bad.yaml") << "parallelism.default: 1\nthis line is wrong\n";
  auto bad =
      runProcess(kBrook + " run --local --conf " + tmp.path() + "/bad.yaml " + job("print_job"));
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_THAT(bad.err, HasSubstr("bad.yaml:2"));
}

TEST(CliTest, TheShippedConfigurationFileIsValid) {
  auto r = runProcess(kBrook + " info --conf " + BROOK_SOURCE_DIR + "/conf/brook.yaml " +
                      job("print_job"));
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"job\": \"print_job\""));
}

TEST(CliTest, InfoPrintsTheJobGraphAsJson) {
  auto r = runProcess(kBrook + " info -p 3 " + std::string(BROOK_WORDCOUNT_JOB) + " -- --input " +
                      BROOK_SOURCE_DIR + "/examples/data/rivers.txt --output x");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"Source: File Source -> Tokenizer -> Map\""));
  EXPECT_THAT(r.out, HasSubstr("\"parallelism\": 3"));
  EXPECT_THAT(r.out, HasSubstr("\"partitioning\": \"HASH\""));
}

TEST(CliTest, HelpDescribesTheCommands) {
  auto r = runProcess(kBrook + " --help");
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, HasSubstr("run"));
  EXPECT_THAT(r.out, HasSubstr("info"));
}

}  // namespace
}  // namespace brook
