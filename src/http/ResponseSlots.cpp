#include "leafsync/ResponseSlots.h"

namespace leafsync {

ResponseSlots::ResponseSlots(std::size_t slots) : state_(std::make_shared<State>()) {
  state_->free = slots;
  state_->total = slots;
}

std::shared_ptr<void> ResponseSlots::tryAcquire() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (state_->free == 0) return nullptr;
    --state_->free;
  }
  // The token keeps the state alive, so a write finishing after the routes are gone is safe.
  std::shared_ptr<State> state = state_;
  return std::shared_ptr<void>(state.get(), [state](void*) {
    std::lock_guard<std::mutex> lock(state->mutex);
    ++state->free;
  });
}

std::size_t ResponseSlots::inUse() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->total - state_->free;
}

}  // namespace leafsync
