#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace leafsync {

// Connections for request threads: a store is single-threaded, so each request borrows one
// and gives it back. Opens lazily; keeps at most `max_idle` open between requests.
template <typename Connection>
class ConnectionPool {
 public:
  using Opener = std::function<std::unique_ptr<Connection>()>;

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    ~Lease() { pool_.giveBack(std::move(c_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() { return c_.get(); }
    Connection& operator*() { return *c_; }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<Connection> c_;
  };

  ConnectionPool(Opener opener, std::size_t max_idle) : opener_(std::move(opener)), max_idle_(max_idle) {}

  Lease acquire() {  // throws what the opener throws (StoreError) when a new one cannot be opened
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    return Lease(*this, opener_());
  }

 private:
  void giveBack(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (c && idle_.size() < max_idle_) idle_.push_back(std::move(c));
  }

  Opener opener_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace leafsync
