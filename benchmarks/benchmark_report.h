#pragma once

// The report helpers that the benchmark programs share: numbers formatted for their tables,
// facts about the machine they ran on, and the writer of their sections of BENCHMARKS.md.

#include <cstdint>
#include <string>

namespace brook::benchmarks {

// ---------------------------------------------------------------------------------------------
// Numbers.

/// `value` with `decimals` digits after the point, as printf's "%.*f" writes it: "3.14".
std::string formatFixed(double value, int decimals);

/// A rate in millions with one decimal and " M": 12'345'678 per second is "12.3 M".
std::string formatRate(double perSecond);

/// `value` in decimal with a comma between groups of three digits: "1,073,741,824".
std::string withThousands(uint64_t value);

// ---------------------------------------------------------------------------------------------
// The machine.

/// The CPUs this process may run on (as nproc counts them), or the online CPUs if the affinity
/// mask cannot be read.
int onlineCpus();

/// The first "model name" of /proc/cpuinfo, or "unknown".
std::string cpuModel();

/// The one-minute load average as /proc/loadavg writes it, or "unknown": the machine may be
/// shared, and other work slows the runs.
std::string loadAverage();

/// Today's date in UTC: "2026-11-26".
std::string todayUtc();

// ---------------------------------------------------------------------------------------------
// BENCHMARKS.md.

/// Replaces the section under `heading` (a "## " line without its newline, e.g. "## Cluster") of
/// the Markdown file at `path`, up to the next "## " heading, with `section`, or appends it after
/// a blank line; the other sections stay as they are. Starts from a short preamble if the file
/// cannot be read. The file is read right before it is replaced, as other benchmarks write other
/// sections of it, and is replaced by renaming a temporary file beside it named after this
/// process's id (`path`.tmp.<pid>), so that two programs writing at once do not write into the
/// same temporary file; they can still lose one another's section, as the later rename wins.
/// Throws std::runtime_error or std::filesystem::filesystem_error if the file cannot be written,
/// after removing the temporary file.
void writeMarkdownSection(const std::string& path,
                          const std::string& heading,
                          const std::string& section);

}  // namespace brook::benchmarks
