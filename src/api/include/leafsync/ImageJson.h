#pragma once

#include <string>

#include "leafsync/ImageRecord.h"

namespace leafsync {

// The seed's JSON shape of an image: data as hex, gps as [lat, lon].
std::string imageJson(const ImageRecord& image);
// The same, around its data: head + hexEncode(image.data) + tail == imageJson(image), so that
// a large image can be sent without its hex in memory at once.
struct ImageJsonParts {
  std::string head;
  std::string tail;
};
ImageJsonParts imageJsonParts(const ImageRecord& image);

}  // namespace leafsync
