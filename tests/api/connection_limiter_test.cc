#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "api/server.h"

namespace hubmirror::api {
namespace {

using boost::asio::ip::make_address;
using Lease = ConnectionLimiter::Lease;

// Admits `count` connections from `address`, requiring each to be admitted.
std::vector<std::unique_ptr<Lease>> AdmitMany(ConnectionLimiter& limiter, const char* address,
                                              size_t count) {
  std::vector<std::unique_ptr<Lease>> leases;
  for (size_t i = 0; i < count; ++i) {
    leases.push_back(limiter.Admit(make_address(address)));
    REQUIRE(leases.back() != nullptr);
  }
  return leases;
}

TEST_CASE("One address holds at most its connections; others still get in",
          "[connection_limiter]") {
  ConnectionLimiter limiter(1024, 3, 0);
  auto held = AdmitMany(limiter, "127.0.0.2", 3);
  CHECK(limiter.Admit(make_address("127.0.0.2")) == nullptr);
  CHECK(limiter.refused() == 1);
  auto other = limiter.Admit(make_address("127.0.0.1"));
  CHECK(other != nullptr);
  CHECK(limiter.connections() == 4);

  held.pop_back();  // a closed connection frees its slot
  CHECK(limiter.connections() == 3);
  CHECK(limiter.Admit(make_address("127.0.0.2")) != nullptr);
  CHECK(limiter.refused() == 1);
}

TEST_CASE("IPv6 clients count by their /64, IPv4-mapped ones as IPv4", "[connection_limiter]") {
  ConnectionLimiter limiter(1024, 2, 0);
  auto held = AdmitMany(limiter, "2001:db8::1", 1);
  auto same_prefix = limiter.Admit(make_address("2001:db8::ffff:2"));
  CHECK(same_prefix != nullptr);
  CHECK(limiter.Admit(make_address("2001:db8::3")) == nullptr);
  CHECK(limiter.Admit(make_address("2001:db8:0:1::1")) != nullptr);

  auto v4 = AdmitMany(limiter, "10.0.0.1", 2);
  CHECK(limiter.Admit(make_address("::ffff:10.0.0.1")) == nullptr);
  CHECK(limiter.Admit(make_address("10.0.0.2")) != nullptr);
}

TEST_CASE("Near the global limit the address holding most is refused first",
          "[connection_limiter]") {
  // 8 slots, the last 2 kept: past 6 open, an address may hold 8 * free / 2.
  ConnectionLimiter limiter(8, 8, 0);
  auto heavy = AdmitMany(limiter, "10.0.0.1", 6);
  auto seventh = limiter.Admit(make_address("10.0.0.1"));  // 6 * 2 < 8 * 2
  CHECK(seventh != nullptr);
  CHECK(limiter.Admit(make_address("10.0.0.1")) == nullptr);  // 7 * 2 >= 8 * 1
  auto light = limiter.Admit(make_address("10.0.0.2"));       // holds none
  CHECK(light != nullptr);
  CHECK(limiter.Admit(make_address("10.0.0.3")) == nullptr);  // full
  CHECK(limiter.refused() == 2);

  seventh.reset();
  light.reset();
  // 6 open again and a light address takes the 7th: the last goes to another light one only.
  auto light_again = AdmitMany(limiter, "10.0.0.2", 1);
  CHECK(limiter.Admit(make_address("10.0.0.1")) == nullptr);  // 6 * 2 >= 8 * 1
  CHECK(limiter.Admit(make_address("10.0.0.3")) != nullptr);
}

TEST_CASE("Without a per-address limit only the global one applies", "[connection_limiter]") {
  ConnectionLimiter limiter(4, 0, 0);
  auto held = AdmitMany(limiter, "10.0.0.1", 4);
  CHECK(limiter.Admit(make_address("10.0.0.2")) == nullptr);
  CHECK(limiter.refused() == 1);
}

TEST_CASE("Requests over an address's limit wait, and get slots in order", "[connection_limiter]") {
  ConnectionLimiter limiter(1024, 8, 1);
  auto leases = AdmitMany(limiter, "10.0.0.1", 4);
  auto other = limiter.Admit(make_address("10.0.0.2"));
  std::vector<int> woken;
  auto wake = [&woken](int which) { return [&woken, which] { woken.push_back(which); }; };

  REQUIRE(limiter.StartRequest(*leases[0]));
  CHECK_FALSE(limiter.StartRequest(*leases[1]));  // not queued without a wake
  CHECK(limiter.StartRequest(*other));            // another address has its own slots
  CHECK_FALSE(limiter.StartRequest(*leases[1], wake(1)));
  CHECK_FALSE(limiter.StartRequest(*leases[2], wake(2)));
  CHECK_FALSE(limiter.StartRequest(*leases[3], wake(3)));

  limiter.FinishRequest(*leases[0]);
  CHECK(woken == std::vector<int>{1});
  CHECK_FALSE(limiter.StopWaiting(*leases[1]));  // granted: it holds the slot
  CHECK(limiter.StopWaiting(*leases[2]));        // gave up before its turn
  CHECK_FALSE(limiter.StartRequest(*leases[0]));

  leases[1].reset();  // a connection closed mid-request passes its slot on
  CHECK(woken == std::vector<int>{1, 3});
  leases[3].reset();
  CHECK(limiter.StartRequest(*leases[0]));
  CHECK(woken == std::vector<int>{1, 3});
}

TEST_CASE("A connection closed while its request waits leaves the queue", "[connection_limiter]") {
  ConnectionLimiter limiter(1024, 8, 1);
  auto leases = AdmitMany(limiter, "10.0.0.1", 3);
  int woken = 0;
  REQUIRE(limiter.StartRequest(*leases[0]));
  CHECK_FALSE(limiter.StartRequest(*leases[1], [&woken] { woken += 1; }));
  CHECK_FALSE(limiter.StartRequest(*leases[2], [&woken] { woken += 10; }));
  leases[1].reset();
  limiter.FinishRequest(*leases[0]);
  CHECK(woken == 10);
}

TEST_CASE("After StopWaking a freed slot wakes no one", "[connection_limiter]") {
  ConnectionLimiter limiter(1024, 8, 1);
  auto leases = AdmitMany(limiter, "10.0.0.1", 3);
  int woken = 0;
  REQUIRE(limiter.StartRequest(*leases[0]));
  CHECK_FALSE(limiter.StartRequest(*leases[1], [&woken] { ++woken; }));
  limiter.StopWaking();
  limiter.FinishRequest(*leases[0]);
  CHECK(woken == 0);
  CHECK(limiter.StopWaiting(*leases[1]));  // still queued, holding nothing
  CHECK(limiter.StartRequest(*leases[2]));
}

}  // namespace
}  // namespace hubmirror::api
