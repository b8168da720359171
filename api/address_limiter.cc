#include "api/address_limiter.h"

namespace hubmirror::api {

AddressLimiter::Window& AddressLimiter::WindowOf(const std::string& address,
                                                 Clock::time_point now) {
  if (windows_.size() >= kMaxAddresses && !windows_.contains(address)) {
    std::erase_if(windows_, [&](const auto& entry) { return now - entry.second.start >= window_; });
    // Still full: a flood of addresses; forgetting every count is better than growing.
    if (windows_.size() >= kMaxAddresses) windows_.clear();
  }
  Window& window = windows_[address];
  if (now - window.start >= window_) window = Window{now, 0};
  return window;
}

bool AddressLimiter::Count(const std::string& address, Clock::time_point now) {
  // Keeps the latest of the events counted on every thread.
  Clock::rep stamp = now.time_since_epoch().count();
  Clock::rep seen = last_event_.load(std::memory_order_relaxed);
  while (seen < stamp && !last_event_.compare_exchange_weak(seen, stamp)) {
  }
  std::lock_guard lock(mutex_);
  Window& window = WindowOf(address, now);
  return ++window.events <= allowance_;
}

int64_t AddressLimiter::SecondsBlocked(const std::string& address, Clock::time_point now) {
  Clock::rep last = last_event_.load(std::memory_order_relaxed);
  if (last == kNever || now - Clock::time_point(Clock::duration(last)) >= window_) return 0;
  std::lock_guard lock(mutex_);
  auto found = windows_.find(address);
  if (found == windows_.end() || found->second.events < allowance_ ||
      now - found->second.start >= window_) {
    return 0;
  }
  auto left = std::chrono::ceil<std::chrono::seconds>(found->second.start + window_ - now);
  return std::max<int64_t>(left.count(), 1);
}

}  // namespace hubmirror::api
