#include "leafsync/ProcessMetrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <prometheus/text_serializer.h>

#include "leafsync/BuildInfo.h"
#include "leafsync/KafkaWireBytes.h"

namespace leafsync {
namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

double bootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

bool readProcStat(ProcStat& out) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name (field 2) is in parentheses and may hold spaces: fields count from its end.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field[22];  // fields 3..24
  for (auto& f : field) {
    if (!(rest >> f)) return false;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (std::stod(field[11]) + std::stod(field[12])) / ticks;  // utime + stime
  out.start_time_seconds = bootTimeSeconds() + std::stod(field[19]) / ticks;  // starttime
  out.virtual_bytes = std::stod(field[20]);                                  // vsize
  out.resident_bytes = std::stod(field[21]) * page;                          // rss, in pages
  return true;
}

double openFds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // the directory iterator's own descriptor
}

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

}  // namespace

void appendProcessMetrics(std::vector<prometheus::MetricFamily>& families) {
  auto build = family("leafsync_build_info", "The version and git commit this binary was built from (value 1).",
                      prometheus::MetricType::Gauge, 1);
  build.metric[0].label = {{"version", std::string(buildVersion())}, {"commit", std::string(buildCommit())}};
  families.push_back(std::move(build));
  ProcStat stat;
  try {
    if (!readProcStat(stat)) return;
  } catch (const std::exception&) {  // a /proc we cannot parse: no process metrics, no failed scrape
    return;
  }
  using prometheus::MetricType;
  families.push_back(family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                            MetricType::Counter, stat.cpu_seconds));
  families.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
                            stat.resident_bytes));
  families.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
                            stat.virtual_bytes));
  families.push_back(family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                            MetricType::Gauge, stat.start_time_seconds));
  families.push_back(family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, openFds()));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
                              static_cast<double>(limit.rlim_cur)));
  }
}

std::string serializeServiceMetrics(const prometheus::Registry& registry) {
  auto families = registry.Collect();
  appendProcessMetrics(families);
  KafkaWireBytes::process().appendMetrics(families, "stream");
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace leafsync
