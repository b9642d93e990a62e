#include "leafsync/Plant.h"

namespace leafsync {

std::string_view plantName(Plant plant) {
  switch (plant) {
    case Plant::Potato:
      return "potato";
    case Plant::Tomato:
      return "tomato";
    case Plant::Pepper:
      return "pepper";
  }
  return "unknown";
}

std::optional<Plant> parsePlant(std::string_view name) {
  for (Plant plant : kAllPlants) {
    if (plantName(plant) == name) return plant;
  }
  return std::nullopt;
}

}  // namespace leafsync
