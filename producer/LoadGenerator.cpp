#include "LoadGenerator.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ImageWrites.h"
#include "leafsync/ByteEncoding.h"
#include "leafsync/Log.h"

namespace leafsync {

void parseMix(const std::string& text, LoadOptions& o) {
  int c = 0, u = 0, d = 0;
  char sep1 = 0, sep2 = 0;
  int used = 0;  // characters read: nothing may follow the third weight
  if (std::sscanf(text.c_str(), "%d%c%d%c%d%n", &c, &sep1, &u, &sep2, &d, &used) != 5 || sep1 != ':' || sep2 != ':' ||
      static_cast<std::size_t>(used) != text.size() || c < 0 || u < 0 || d < 0 || c + u + d == 0) {
    throw std::invalid_argument("--mix must be create:update:delete weights, e.g. 20:75:5");
  }
  o.mix_create = c;
  o.mix_update = u;
  o.mix_delete = d;
}

namespace {

void reportProgress(std::ostream& out, SourceStore& store, const LoadResult& so_far,
                    std::chrono::steady_clock::duration elapsed, double duration_s) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  long long outbox = -1;
  try {
    outbox = static_cast<long long>(store.pendingCount());
  } catch (const std::exception&) {  // the depth is information; the run goes on without it
  }
  char line[240];
  std::snprintf(line, sizeof line,
                "load: %.0f/%.0f s, %lld writes (%.1f/s), %lld errors, outbox %lld events not yet published\n", seconds,
                duration_s, static_cast<long long>(so_far.writes()), static_cast<double>(so_far.writes()) / seconds,
                static_cast<long long>(so_far.errors), outbox);
  out << line << std::flush;
}

}  // namespace

LoadResult runLoad(SourceStore& store, const LoadOptions& o, const std::function<void()>& on_write,
                   const std::atomic<bool>& stop) {
  std::mt19937_64 rng(o.seed);
  std::array<std::vector<std::int64_t>, 3> live;
  for (Plant plant : kAllPlants) {
    for (std::int64_t after = 0;;) {
      auto page = store.list(plant, after, 1000);
      for (const auto& image : page) live[plantIndex(plant)].push_back(image.id);
      if (page.size() < 1000) break;
      after = page.back().id;
    }
  }
  static const char* kDiseases[] = {"Healthy", "Early blight", "Late blight", "Bacterial spot", "Leaf mold"};
  LoadResult result;
  auto started = std::chrono::steady_clock::now();
  auto interval = std::chrono::duration<double>(1.0 / o.rate);
  std::int64_t total = static_cast<std::int64_t>(o.rate * o.duration_s);
  int weight = o.mix_create + o.mix_update + o.mix_delete;
  const std::array<int, 3> weights = {o.mix_create, o.mix_update, o.mix_delete};
  std::array<int, 3> credit = {0, 0, 0};
  const auto every = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(o.progress_every_s));
  auto next_report = started + every;
  for (std::int64_t i = 0; i < total && !stop; ++i) {
    if (o.progress != nullptr && o.progress_every_s > 0 && std::chrono::steady_clock::now() >= next_report) {
      reportProgress(*o.progress, store, result, std::chrono::steady_clock::now() - started, o.duration_s);
      next_report += every;
    }
    std::this_thread::sleep_until(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval * i));
    Plant plant = kAllPlants[rng() % 3];
    auto& ids = live[plantIndex(plant)];
    // The mix holds over any window, not only on average (smooth weighted round-robin: each
    // kind earns its weight every write, the richest is written and pays the total), so a
    // benchmark's 30 writes at 10:85:5 are 3 creates, not 0 to 7 by chance (which skewed the
    // sweep's bytes per write).
    for (int k = 0; k < 3; ++k) credit[k] += weights[k];
    int kind = static_cast<int>(std::max_element(credit.begin(), credit.end()) - credit.begin());
    credit[kind] -= weight;
    const int kCreate = 0, kUpdate = 1;
    try {
      if (ids.empty() || kind == kCreate) {
        std::string bytes(o.image_bytes, '\0');
        for (char& b : bytes) b = static_cast<char>(rng());
        nlohmann::json body = {{"camera_id", rng() % 100},
                               {"gps_coordinates", {47.0 + static_cast<double>(rng() % 1000) / 1000.0,
                                                    15.0 + static_cast<double>(rng() % 1000) / 1000.0}},
                               {"data", hexEncode(bytes)}};
        auto parsed = parseCreateRequest(body.dump());
        ids.push_back(store.create(plant, std::get<NewImage>(parsed)).id);
        ++result.creates;
      } else if (kind == kUpdate) {
        std::int64_t id = ids[rng() % ids.size()];
        nlohmann::json body = {{"id", id},
                               {"disease", kDiseases[rng() % 5]},
                               {"percentage", static_cast<double>(rng() % 10000) / 100.0},
                               {"is_active", rng() % 2 == 0}};
        auto parsed = parseUpdateRequest(body.dump());
        if (store.update(plant, std::get<ImageChange>(parsed))) ++result.updates;
      } else {
        std::size_t at = rng() % ids.size();
        if (store.remove(plant, ids[at])) ++result.deletes;
        ids[at] = ids.back();
        ids.pop_back();
      }
      on_write();
    } catch (const std::exception& e) {
      ++result.errors;
      logEvent(LogLevel::Warn, "load_write_failed", {{"error", e.what()}});
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace leafsync
