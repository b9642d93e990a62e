#include "leafsync/CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "leafsync/BuildInfo.h"
#include "leafsync/ConsumerConfig.h"
#include "leafsync/Log.h"

namespace leafsync {

std::string versionLine(const std::string& program) {
  return program + " " + std::string(buildVersion()) + " (commit " + std::string(buildCommit()) + ")";
}

void configureApp(CLI::App& app, const std::string& program) {
  app.set_version_flag("--version", versionLine(program), "print the version and the git commit, then exit");
  // A mistyped flag is an error, never silently taken as a value or ignored.
  app.allow_extras(false);
  app.failure_message([program](const CLI::App* top, const CLI::Error& e) {
    // The usage to point at: that of the subcommand being parsed, if one was named.
    std::string where = program;
    for (const CLI::App* sub : top->get_subcommands()) where += " " + sub->get_name();
    return program + ": " + e.what() + "\nRun '" + where + " --help' for the usage.\n";
  });
}

CLI::Validator positiveNumber() {
  return CLI::Validator(
      [](std::string& text) {
        char* end = nullptr;
        errno = 0;
        double value = text.empty() ? 0 : std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value) || value <= 0) {
          return "must be a positive number, got '" + text + "'";
        }
        return std::string();
      },
      "POSITIVE");
}

std::optional<int> parseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here as "errors" with exit code 0.
    int code = app.exit(e, std::cout, std::cerr);
    return code == 0 ? 0 : kExitUsage;
  }
}

int runLogged(const std::function<int()>& body) {
  try {
    return body();
  } catch (const ConfigError& e) {
    logEvent(LogLevel::Error, "config_error", {{"error", e.what()}});
    return kExitRuntime;
  } catch (const std::exception& e) {
    logEvent(LogLevel::Error, "failed", {{"error", e.what()}});
    return kExitRuntime;
  }
}

}  // namespace leafsync
