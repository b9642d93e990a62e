#pragma once

#include <cstdint>
#include <string>

#include "leafsync/ChangeEvent.h"

namespace leafsync::testing {

// Events as a test states them: create(1, v1), update(1, v2).disease("Healthy"), remove(1, v3).
class EventBuilder {
 public:
  static EventBuilder create(std::int64_t id, std::int64_t version, Plant plant = Plant::Potato);
  static EventBuilder snapshot(std::int64_t id, std::int64_t version, Plant plant = Plant::Potato);
  static EventBuilder update(std::int64_t id, std::int64_t version, Plant plant = Plant::Potato);
  static EventBuilder remove(std::int64_t id, std::int64_t version, Plant plant = Plant::Potato);

  EventBuilder& camera(std::int64_t camera_id);
  EventBuilder& data(std::string bytes);
  EventBuilder& gps(double latitude, double longitude);
  EventBuilder& updatedAt(std::string timestamp);
  EventBuilder& active(bool value);
  EventBuilder& softDeleted(bool value);
  EventBuilder& disease(std::optional<std::string> value);
  EventBuilder& percentage(std::optional<double> value);
  EventBuilder& sourceTime(std::int64_t ts_ms);

  ChangeEvent build() const { return event_; }
  operator ChangeEvent() const { return event_; }
  std::string json() const;  // EventCodec::encode of the event

 private:
  EventBuilder(Op op, std::int64_t id, std::int64_t version, Plant plant);
  ChangeEvent event_;
};

}  // namespace leafsync::testing
