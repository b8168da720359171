#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hubmirror::api {

// Counts events per client address in fixed windows: to slow down an address that keeps sending
// bad tokens, and to bound how much of the audit log one address can fill with refused requests.
// Memory is bounded: past kMaxAddresses the windows that ended are dropped, then all of them.
// Thread-safe (one mutex; every call is a hash lookup).
class AddressLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // An address may have `allowance` events per `window`.
  AddressLimiter(int64_t allowance, std::chrono::seconds window)
      : allowance_(allowance), window_(window) {}

  // Counts one event of `address`. Returns true while the address is within its allowance.
  bool Count(const std::string& address, Clock::time_point now = Clock::now());
  // Seconds until `address` may go on, 0 when it is within its allowance (nothing counted).
  // Without any event in the last window it takes no lock: it is asked on every request.
  int64_t SecondsBlocked(const std::string& address, Clock::time_point now = Clock::now());

 private:
  static constexpr size_t kMaxAddresses = 65536;
  struct Window {
    Clock::time_point start;
    int64_t events = 0;
  };
  Window& WindowOf(const std::string& address, Clock::time_point now);

  const int64_t allowance_;
  const std::chrono::seconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
  // When the last event was counted (steady clock ticks): no address can be over its allowance
  // a window after it.
  static constexpr Clock::rep kNever = std::numeric_limits<Clock::rep>::min();
  std::atomic<Clock::rep> last_event_{kNever};
};

}  // namespace hubmirror::api
