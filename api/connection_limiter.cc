// ConnectionLimiter (declared in server.h): who may open connections and run requests.
#include <cstring>
#include <functional>
#include <mutex>

#include "api/server.h"

namespace hubmirror::api {
namespace {

namespace net = boost::asio;

// Once this many connections are open, each address may hold fewer of the rest the fuller the
// server gets: a quarter of the slots is kept for addresses that hold few.
size_t ReserveStart(size_t max_connections) { return max_connections - max_connections / 4; }

}  // namespace

ConnectionLimiter::ConnectionLimiter(size_t max_connections, size_t max_connections_per_address,
                                     size_t max_requests_per_address)
    : max_connections_(max_connections),
      max_connections_per_address_(max_connections_per_address),
      max_requests_per_address_(max_requests_per_address) {}

ConnectionLimiter::Lease::~Lease() { limiter_.Release(*this); }

size_t ConnectionLimiter::KeyHash::operator()(const Key& key) const {
  uint64_t high = 0;
  uint64_t low = 0;
  std::memcpy(&high, key.data(), sizeof high);
  std::memcpy(&low, key.data() + sizeof high, sizeof low);
  return std::hash<uint64_t>()((high * 0x9e3779b97f4a7c15u) ^ low ^ (low >> 29));
}

ConnectionLimiter::Key ConnectionLimiter::KeyOf(const net::ip::address& address) {
  if (address.is_v4()) {
    return net::ip::make_address_v6(net::ip::v4_mapped, address.to_v4()).to_bytes();
  }
  Key key = address.to_v6().to_bytes();
  if (!address.to_v6().is_v4_mapped()) std::fill(key.begin() + 8, key.end(), 0);
  return key;
}

bool ConnectionLimiter::MayConnect(size_t held) const {
  if (connections_ >= max_connections_) return false;
  if (max_connections_per_address_ == 0) return true;
  if (held >= max_connections_per_address_) return false;
  size_t reserve_start = ReserveStart(max_connections_);
  if (connections_ < reserve_start) return true;
  // An address's limit shrinks with the free part of the reserve, down to nothing for the last
  // slot: an address holding none is still admitted then.
  size_t reserve = max_connections_ - reserve_start;
  size_t free = max_connections_ - connections_;
  return held * reserve < max_connections_per_address_ * free;
}

std::unique_ptr<ConnectionLimiter::Lease> ConnectionLimiter::Admit(
    const net::ip::address& address) {
  Key key = KeyOf(address);
  std::lock_guard lock(mutex_);
  auto found = addresses_.find(key);
  if (!MayConnect(found == addresses_.end() ? 0 : found->second.connections)) {
    ++refused_;
    return nullptr;
  }
  if (found == addresses_.end()) found = addresses_.try_emplace(key, key).first;
  ++found->second.connections;
  ++connections_;
  return std::unique_ptr<Lease>(new Lease(*this, found->second));
}

bool ConnectionLimiter::StartRequest(Lease& lease, std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  Address& address = lease.address_;
  if (max_requests_per_address_ == 0 || address.requests < max_requests_per_address_) {
    ++address.requests;
    lease.request_ = Lease::Request::kRunning;
    return true;
  }
  if (wake) {
    lease.request_ = Lease::Request::kWaiting;
    lease.wake_ = std::move(wake);
    address.waiting.push_back(&lease);
  }
  return false;
}

bool ConnectionLimiter::StopWaiting(Lease& lease) {
  std::lock_guard lock(mutex_);
  if (lease.request_ != Lease::Request::kWaiting) return false;
  std::erase(lease.address_.waiting, &lease);
  lease.request_ = Lease::Request::kNone;
  lease.wake_ = nullptr;
  return true;
}

void ConnectionLimiter::FinishRequest(Lease& lease) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    FinishRequestLocked(lease, &wake);
  }
  if (wake) wake();
}

void ConnectionLimiter::FinishRequestLocked(Lease& lease, std::function<void()>* wake) {
  lease.request_ = Lease::Request::kNone;
  Address& address = lease.address_;
  if (address.waiting.empty() || !waking_) {
    --address.requests;
    return;
  }
  // The slot passes straight to the request that waited longest.
  Lease* next = address.waiting.front();
  address.waiting.pop_front();
  next->request_ = Lease::Request::kRunning;
  *wake = std::move(next->wake_);
}

void ConnectionLimiter::Release(Lease& lease) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    Address& address = lease.address_;
    if (lease.request_ == Lease::Request::kRunning) {
      FinishRequestLocked(lease, &wake);
    } else if (lease.request_ == Lease::Request::kWaiting) {
      std::erase(address.waiting, &lease);
    }
    --connections_;
    if (--address.connections == 0) {
      Key key = address.key;
      addresses_.erase(key);
    }
  }
  if (wake) wake();
}

void ConnectionLimiter::StopWaking() {
  std::lock_guard lock(mutex_);
  waking_ = false;
}

size_t ConnectionLimiter::connections() const {
  std::lock_guard lock(mutex_);
  return connections_;
}

size_t ConnectionLimiter::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

}  // namespace hubmirror::api
