#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace leafsync {

// Connections for threads that take turns: a store is single-threaded, so each user (a
// request, a partition's applier) borrows one and gives it back. Opens lazily, so a database
// that is away at start-up costs a failed acquire(), not the process; keeps at most
// `max_idle` open between uses. Thread-safe.
template <typename Connection>
class ConnectionPool {
 public:
  using Opener = std::function<std::unique_ptr<Connection>()>;

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    ~Lease() {
      if (c_) pool_->giveBack(std::move(c_));
    }
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        if (c_) pool_->giveBack(std::move(c_));
        pool_ = other.pool_;
        c_ = std::move(other.c_);
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() { return c_.get(); }
    Connection& operator*() { return *c_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  ConnectionPool(Opener opener, std::size_t max_idle) : opener_(std::move(opener)), max_idle_(max_idle) {}

  // Opens one connection now and keeps it idle (at start-up: it creates or migrates the
  // schema). Throws what the opener throws.
  void openOne() { giveBack(opener_()); }

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
