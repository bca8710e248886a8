#pragma once

/// The in-flight windows of one key under a merging assigner, as Flink's MergingWindowSet: a
/// mapping from each window to its state window, the namespace that holds its contents. When
/// a window grows by merging, its contents stay where they are (the state window of one of the
/// merged windows) and only the other merged windows' contents move, so a session that grows
/// one element at a time never copies its contents.

#include <algorithm>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include <brook/state.h>
#include <brook/windowing.h>

namespace brook::internal {

/// The name of the mapping's keyed state (in the default namespace), as Flink's.
inline constexpr char kMergingWindowSetState[] = "merging-window-set";

/// Loaded from the keyed state for the current key before use and persisted after a change.
/// Owned by the window operator; used on the task's thread.
template <typename W, typename Assigner>
class MergingWindowSet {
 public:
  using Mapping = std::vector<std::pair<W, W>>;  ///< window -> state window

  explicit MergingWindowSet(const Assigner* assigner) : assigner_(assigner) {}

  /// Reads the current key's windows from `state`.
  void load(ListState<std::pair<W, W>>& state) {
    mapping_ = state.get();
    changed_ = false;
  }
  /// Writes the current key's windows back to `state` if they changed.
  void persist(ListState<std::pair<W, W>>& state) {
    if (changed_)
      state.update(mapping_);
    changed_ = false;
  }

  /// The state window of an in-flight `window`, or null.
  const W* stateWindow(const W& window) const {
    auto it = find(window);
    return it == mapping_.end() ? nullptr : &it->second;
  }

  /// Removes `window`, whose state has been cleared. Throws std::logic_error when it is not in
  /// flight.
  void retireWindow(const W& window) {
    auto it = find(window);
    if (it == mapping_.end())
      throw std::logic_error("window is not in the in-flight window set");
    mapping_.erase(it);
    changed_ = true;
  }

  /// Adds `newWindow`, merging it with the windows it overlaps, and returns the window it ends
  /// up in (`newWindow` itself when nothing merged). For each merge,
  /// `merge(result, mergedWindows, stateWindowResult, mergedStateWindows)` is called before
  /// the mapping is used again: the caller moves the contents of `mergedStateWindows` into
  /// `stateWindowResult` and the trigger's state and timers of `mergedWindows` to `result`.
  /// The windows in `mergedWindows` are in-flight windows (never `newWindow`, which has no
  /// state yet).
  template <typename MergeFunction>
  W addWindow(const W& newWindow, MergeFunction&& merge) {
    if (find(newWindow) != mapping_.end())
      return newWindow;
    candidates_.clear();
    for (const auto& entry : mapping_)
      candidates_.push_back(entry.first);
    candidates_.push_back(newWindow);
    assigner_->mergeWindows(candidates_, merges_);

    W resultWindow = newWindow;
    bool mergedNewWindow = false;
    for (size_t i = 0; i < merges_.size(); ++i) {
      const W mergeResult = merges_.result(i);
      mergedWindows_.clear();
      for (const W& w : merges_.merged(i)) {
        if (w == newWindow) {
          mergedNewWindow = true;
          resultWindow = mergeResult;
        } else {
          mergedWindows_.push_back(w);
        }
      }
      if (mergedWindows_.empty())
        continue;  // cannot happen: a merge covers two or more windows

      // The first merged window's state window keeps the result's contents.
      const W* firstStateWindow = stateWindow(mergedWindows_.front());
      if (firstStateWindow == nullptr)
        throw std::logic_error("a merged window is not in the in-flight window set");
      const W stateWindowResult = *firstStateWindow;
      mergedStateWindows_.clear();
      for (const W& w : mergedWindows_) {
        auto it = find(w);
        if (it == mapping_.end())
          continue;
        if (!(it->second == stateWindowResult))
          mergedStateWindows_.push_back(it->second);
        mapping_.erase(it);
      }
      put(mergeResult, stateWindowResult);
      changed_ = true;

      // A new window inside one in-flight window changes nothing.
      if (!(mergedWindows_.size() == 1 && mergedWindows_.front() == mergeResult)) {
        merge(mergeResult, std::span<const W>(mergedWindows_), stateWindowResult,
              std::span<const W>(mergedStateWindows_));
      }
    }
    if (!mergedNewWindow) {
      put(newWindow, newWindow);
      changed_ = true;
    }
    return resultWindow;
  }

  const Mapping& mapping() const { return mapping_; }

 private:
  typename Mapping::iterator find(const W& window) {
    return std::find_if(mapping_.begin(), mapping_.end(),
                        [&](const std::pair<W, W>& e) { return e.first == window; });
  }
  typename Mapping::const_iterator find(const W& window) const {
    return std::find_if(mapping_.begin(), mapping_.end(),
                        [&](const std::pair<W, W>& e) { return e.first == window; });
  }
  void put(const W& window, const W& stateWindow) {
    auto it = find(window);
    if (it != mapping_.end()) {
      it->second = stateWindow;
    } else {
      mapping_.emplace_back(window, stateWindow);
    }
  }

  const Assigner* assigner_;
  Mapping mapping_;
  bool changed_ = false;
  // Scratch reused across calls.
  std::vector<W> candidates_;
  WindowMerges<W> merges_;
  std::vector<W> mergedWindows_;
  std::vector<W> mergedStateWindows_;
};

}  // namespace brook::internal
