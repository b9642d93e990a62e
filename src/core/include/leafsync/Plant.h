#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace leafsync {

// The three plants of the Leaf Image Management System; each has its own topic and table.
enum class Plant { Potato = 0, Tomato = 1, Pepper = 2 };

inline constexpr std::array<Plant, 3> kAllPlants = {Plant::Potato, Plant::Tomato, Plant::Pepper};

std::string_view plantName(Plant plant);
std::optional<Plant> parsePlant(std::string_view name);
inline constexpr std::size_t plantIndex(Plant plant) { return static_cast<std::size_t>(plant); }

}  // namespace leafsync
