#include "leafsync/ImageTable.h"

namespace leafsync {

std::string imageTable(Plant plant) { return "image_" + std::string(plantName(plant)); }

}  // namespace leafsync
