#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "EventPublisher.h"
#include "ProducerMetrics.h"
#include "leafsync/SourceStore.h"

namespace leafsync {

// Publishes the outbox in commit order: read a batch, send it, wait for the broker's
// acknowledgement, then delete it from the outbox. A crash before the delete re-sends the
// batch on restart (the consumer's version rule absorbs the duplicates); nothing is deleted
// before it is acknowledged, so nothing is lost. One relay per source database.
//
// It opens its connection to the source when it first needs it (and again after a failed
// open), so a relay whose database is away at start-up waits for it instead of failing.
class OutboxRelay {
 public:
  using SourceOpener = std::function<std::unique_ptr<SourceStore>()>;  // throws StoreError

  OutboxRelay(SourceOpener open_source, std::unique_ptr<EventPublisher> publisher,
              std::array<std::string, 3> topics, int batch_size, int poll_ms, ProducerMetrics& metrics);
  ~OutboxRelay();

  void start();
  void notify();  // a write committed: publish without waiting for the next poll
  // Publishes what is pending now (retrying until done or stopped), then stops the thread.
  void stop();
  // One pass: publish up to batch_size events. Returns how many were published; throws
  // nothing (failures are logged, counted and retried on the next pass).
  std::size_t publishOnce();

 private:
  void run();
  SourceStore* source();  // nullptr when it cannot be opened now (logged)

  SourceOpener open_source_;
  std::unique_ptr<SourceStore> store_;
  std::unique_ptr<EventPublisher> publisher_;
  std::array<std::string, 3> topics_;
  std::size_t batch_size_;
  int poll_ms_;
  ProducerMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_wake_ = false;
  std::atomic<bool> stop_{false};
  bool in_flight_ = false;  // a batch was left unacknowledged at stop: publish nothing after it
  std::thread thread_;
};

}  // namespace leafsync
