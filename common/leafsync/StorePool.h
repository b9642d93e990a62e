#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "leafsync/Store.h"

namespace leafsync {

// Connections for request threads: a Store is single-threaded, so each request borrows one
// and gives it back. Opens lazily; keeps at most `max_idle` open between requests.
class StorePool {
 public:
  using Opener = std::function<std::unique_ptr<Store>()>;

  class Lease {
   public:
    Lease(StorePool& pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
    ~Lease() { pool_.giveBack(std::move(store_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Store* operator->() { return store_.get(); }
    Store& operator*() { return *store_; }

   private:
    StorePool& pool_;
    std::unique_ptr<Store> store_;
  };

  StorePool(Opener opener, std::size_t max_idle) : opener_(std::move(opener)), max_idle_(max_idle) {}

  Lease acquire() {  // throws StoreError when a new connection cannot be opened
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto store = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(store));
      }
    }
    return Lease(*this, opener_());
  }

 private:
  void giveBack(std::unique_ptr<Store> store) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (store && idle_.size() < max_idle_) idle_.push_back(std::move(store));
  }

  Opener opener_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Store>> idle_;
};

}  // namespace leafsync
