#include "leafsync/CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "leafsync/BuildInfo.h"
#include "leafsync/ConfigError.h"
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

namespace {

nlohmann::json describeOption(const CLI::Option& o) {
  bool flag = o.get_type_size() == 0 || o.get_expected_max() == 0;
  nlohmann::json d = {{"name", o.get_name()}, {"flag", flag}, {"required", o.get_required()}};
  if (!flag) d["type"] = o.get_type_name();
  if (!o.get_default_str().empty()) d["default"] = o.get_default_str();
  if (!o.get_envname().empty()) d["env"] = o.get_envname();
  return d;
}

void collectOptionEnvironment(const CLI::App& app, const std::string& command, nlohmann::json& out) {
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_envname().empty()) continue;
    nlohmann::json e = {{"name", o->get_envname()}, {"key", nullptr}, {"option", o->get_name()},
                        {"type", o->get_type_name()}, {"default", o->get_default_str()}};
    if (!command.empty()) e["command"] = command;
    out.push_back(e);
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    collectOptionEnvironment(*sub, sub->get_name(), out);
  }
}

}  // namespace

nlohmann::json describeCommandLine(const CLI::App& app) {
  nlohmann::json options = nlohmann::json::array();
  for (const CLI::Option* o : app.get_options()) options.push_back(describeOption(*o));
  nlohmann::json commands = nlohmann::json::array();
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    nlohmann::json c = describeCommandLine(*sub);
    c["name"] = sub->get_name();
    commands.push_back(c);
  }
  return {{"options", options}, {"commands", commands}};
}

nlohmann::json describeOptionEnvironment(const CLI::App& app) {
  nlohmann::json env = nlohmann::json::array();
  collectOptionEnvironment(app, "", env);
  return env;
}

nlohmann::json describeSettingSource(const nlohmann::json& settings, const std::string& key) {
  for (const nlohmann::json& k : settings.at("keys")) {
    if (k.at("key") == key) return {{"key", key}, {"env", k.at("env")}, {"default", k.at("default")}};
  }
  throw std::logic_error("no setting " + key + " in the table");
}

std::string describeBinary(const std::string& program, const CLI::App& app, const nlohmann::json& settings,
                           const nlohmann::json& env, const nlohmann::json& http) {
  nlohmann::json d = {{"binary", program},
                      {"version", std::string(buildVersion())},
                      {"commit", std::string(buildCommit())},
                      {"command_line", describeCommandLine(app)},
                      {"config", settings},
                      {"env", env},
                      {"http", http}};
  return d.dump(2) + "\n";
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
