#pragma once

#include <string>
#include <string_view>

namespace leafsync {

// Field rules shared by the event codec and the write API. Each returns an empty string when
// the value is valid, else the reason, naming the field.
std::string checkGps(double latitude, double longitude);
std::string checkPercentage(double percentage);
std::string checkDisease(std::string_view disease);

inline constexpr std::size_t kMaxDiseaseLength = 200;

}  // namespace leafsync
