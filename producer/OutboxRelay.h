#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "EventPublisher.h"
#include "ProducerMetrics.h"
#include "leafsync/SourceStore.h"

namespace leafsync {

// Publishes the outbox in commit order, pipelined: it reads a batch and sends it while the
// batches before it are still being acknowledged (up to kBatchesInFlight of them; the
// idempotent producer keeps their order), and deletes from the outbox the acknowledged
// prefix — never past an event the broker has not acknowledged. When a delivery fails, it
// sends nothing new until every event in flight is answered, deletes up to the failed one,
// then sends again from it: the events after it that were acknowledged go out a second time
// (the consumer's version rule absorbs the duplicates), none is lost or deleted unsent. A
// crash before a delete re-sends on restart, in the same way. One relay per source database.
//
// It opens its connection to the source when it first needs it (and again after a failed
// open), so a relay whose database is away at start-up waits for it instead of failing.
// Its methods are for one thread (the relay's once started), notify() aside.
class OutboxRelay {
 public:
  using SourceOpener = std::function<std::unique_ptr<SourceStore>()>;  // throws StoreError
  static constexpr std::size_t kBatchesInFlight = 4;

  OutboxRelay(SourceOpener open_source, std::unique_ptr<EventPublisher> publisher,
              std::array<std::string, 3> topics, int batch_size, int poll_ms, ProducerMetrics& metrics);
  ~OutboxRelay();

  void start();
  void notify();  // a write committed: publish without waiting for the next poll
  // Publishes what is pending now (until nothing is left, or the broker is silent for a
  // second), then stops the thread. What is unacknowledged stays in the outbox.
  void stop();
  // One pass, never waiting: takes the broker's answers, deletes the acknowledged prefix,
  // and sends the next batch if the window has room and no failure is being resolved.
  // Returns how many events it deleted as published. Throws nothing (failures are logged,
  // counted and resolved on later passes).
  std::size_t publishOnce();
  std::size_t inFlight() const { return in_flight_.size(); }  // events sent, not yet deleted

 private:
  struct Sent {
    std::int64_t seq = 0;
    std::int64_t created_ms = 0;
    std::size_t bytes = 0;
    std::size_t awaiting = 0;  // deliveries still to come (a marker goes to every partition)
    bool failed = false;
  };

  void run();
  std::size_t pass();  // publishOnce(), reading the outbox only when unread_
  SourceStore* source();  // nullptr when it cannot be opened now (logged)
  void takeDeliveries();
  std::size_t deleteAcknowledged();
  bool sendBatch();  // true: it read a full batch (more may be waiting)
  void reportDepth(bool now);
  void wake();

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
  bool pending_writes_ = false;  // notify() since the last wake-up
  std::atomic<bool> stop_{false};
  // The pipeline, in seq order: every event sent and not yet deleted. Only the relay's thread
  // touches these.
  std::deque<Sent> in_flight_;
  std::int64_t sent_up_to_ = 0;    // the last seq sent (the next read starts after it)
  bool failure_ = false;           // a delivery failed: resolve before sending more
  bool read_full_ = false;         // the last read filled a batch
  // The outbox may hold events past sent_up_to_: a commit was notified, the poll timed out,
  // the last read was cut short by the batch size or the window. A wake-up by delivery
  // reports alone reads nothing: at low rates that halves the relay's queries.
  bool unread_ = true;
  std::vector<Delivery> deliveries_;
  std::chrono::steady_clock::time_point last_answer_{};  // the broker's last report
  std::chrono::steady_clock::time_point next_depth_{};   // the gauge's next refresh
  std::chrono::steady_clock::time_point next_wait_report_{};
  std::thread thread_;
};

}  // namespace leafsync
