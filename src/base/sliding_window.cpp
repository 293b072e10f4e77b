#include "base/sliding_window.h"

#include <algorithm>

namespace lrogate {

void SlidingWindow::drop_before(Millis now) {
  // The window ending at `now` is (now - window, now]: an admission exactly
  // one window old has left it.
  while (!times_.empty() && times_.front() <= now - window_ms_) times_.pop_front();
}

Millis SlidingWindow::admit_at(Millis now, int limit) {
  now = std::max(now, last_);
  drop_before(now);
  if (limit <= 0 || times_.size() < static_cast<std::size_t>(limit)) return now;
  // One more fits once all but limit - 1 of those in the window have left it:
  // the (size - limit + 1)-th oldest leaves at its time + window.
  return times_[times_.size() - static_cast<std::size_t>(limit)] + window_ms_;
}

std::size_t SlidingWindow::record(Millis now) {
  now = std::max(now, last_);
  last_ = now;
  drop_before(now);
  times_.push_back(now);
  return times_.size();
}

std::size_t SlidingWindow::count(Millis now) {
  drop_before(std::max(now, last_));
  return times_.size();
}

}  // namespace lrogate
