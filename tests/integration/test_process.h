#pragma once

#include <string>
#include <vector>

namespace brook::testing {

struct ProcessResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Runs `command` through /bin/sh with a 120 s limit and returns its exit code and output.
ProcessResult runProcess(const std::string& command);

/// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// The lines of every part file in `dir`.
std::vector<std::string> readPartFiles(const std::string& dir);

}  // namespace brook::testing
