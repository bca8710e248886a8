#include "integration/test_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace brook::testing {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

ProcessResult runProcess(const std::string& command) {
  TempDir tmp;
  std::string out = tmp.path() + "/out";
  std::string err = tmp.path() + "/err";
  std::string full = "timeout 120 " + command + " >" + out + " 2>" + err;
  int status = std::system(full.c_str());
  ProcessResult r;
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "brook-test-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> readPartFiles(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    // Hidden files are part files still in progress or pending (the file sink's).
    if (entry.path().filename().string().starts_with("."))
      continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line))
      lines.push_back(line);
  }
  return lines;
}

}  // namespace brook::testing
