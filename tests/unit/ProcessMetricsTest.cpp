#include "leafsync/ProcessMetrics.h"

#include "leafsync/BuildInfo.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <string>

namespace leafsync {
namespace {

std::map<std::string, double> processMetrics() {
  std::vector<prometheus::MetricFamily> families;
  appendProcessMetrics(families);
  std::map<std::string, double> values;
  for (const auto& f : families) {
    const auto& m = f.metric.at(0);
    values[f.name] = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
  }
  return values;
}

TEST(ProcessMetricsTest, ExportsTheConventionalProcessFamilies) {
  auto values = processMetrics();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_start_time_seconds", "process_open_fds", "process_max_fds"}) {
    EXPECT_TRUE(values.count(name)) << name;
  }
  EXPECT_GT(values["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(values["process_virtual_memory_bytes"], values["process_resident_memory_bytes"]);
  EXPECT_GE(values["process_max_fds"], values["process_open_fds"]);
}

TEST(ProcessMetricsTest, StartTimeIsThisProcessesStart) {
  const double now = static_cast<double>(std::time(nullptr));
  const double started = processMetrics()["process_start_time_seconds"];
  EXPECT_LE(started, now + 1);
  EXPECT_GT(started, now - 600);  // a unit test binary started minutes ago at most
}

TEST(ProcessMetricsTest, CpuSecondsFollowTheWork) {
  // Spin until the process's own CPU clock has advanced 0.3 s (wall time depends on the load).
  const double before = processMetrics()["process_cpu_seconds_total"];
  const std::clock_t start = std::clock();
  volatile double sink = 0;
  while (std::clock() - start < CLOCKS_PER_SEC * 3 / 10) sink = sink + 1;
  const double spent = processMetrics()["process_cpu_seconds_total"] - before;
  EXPECT_GE(spent, 0.25);  // /proc counts in clock ticks (10 ms)
  EXPECT_LT(spent, 0.6);
}

TEST(ProcessMetricsTest, OpenFdsCountDescriptorsOpened) {
  const double before = processMetrics()["process_open_fds"];
  std::FILE* files[5];
  for (auto& f : files) f = std::fopen("/proc/self/stat", "r");
  EXPECT_EQ(processMetrics()["process_open_fds"] - before, 5);
  for (auto* f : files) std::fclose(f);
}

TEST(ProcessMetricsTest, NamesTheBuild) {
  std::vector<prometheus::MetricFamily> families;
  appendProcessMetrics(families);
  const std::string text = prometheus::TextSerializer().Serialize(families);
  const std::string expected = "leafsync_build_info{version=\"" + std::string(buildVersion()) + "\",commit=\"" +
                               std::string(buildCommit()) + "\"} 1";
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  EXPECT_FALSE(buildVersion().empty());
}

TEST(ProcessMetricsTest, SerializesAsPrometheusText) {
  std::vector<prometheus::MetricFamily> families;
  appendProcessMetrics(families);
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace leafsync
