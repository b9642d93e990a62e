#include "leafsync/ImageValidation.h"

#include <cmath>

namespace leafsync {

std::string checkGps(double latitude, double longitude) {
  if (!std::isfinite(latitude) || latitude < -90 || latitude > 90) {
    return "field 'gps_coordinates' latitude must be within [-90, 90]";
  }
  if (!std::isfinite(longitude) || longitude < -180 || longitude > 180) {
    return "field 'gps_coordinates' longitude must be within [-180, 180]";
  }
  return {};
}

std::string checkPercentage(double percentage) {
  if (!std::isfinite(percentage) || percentage < 0 || percentage > 100) {
    return "field 'percentage' must be within [0, 100]";
  }
  return {};
}

std::string checkDisease(std::string_view disease) {
  // Characters, not bytes: "Mosaïque" is 8 long. Every UTF-8 character has exactly one byte
  // that is not a continuation byte (10xxxxxx).
  std::size_t characters = 0;
  for (char c : disease) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (characters > kMaxDiseaseLength) return "field 'disease' is longer than 200 characters";
  // PostgreSQL text cannot hold NUL: accepting it would make the copy retry the event forever.
  if (disease.find('\0') != std::string_view::npos) return "field 'disease' must not contain NUL characters";
  return {};
}

}  // namespace leafsync
