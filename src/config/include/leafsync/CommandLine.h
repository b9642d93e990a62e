#pragma once

// The command-line layer shared by leafsync-consumer, leafsync-producer and leafsync-batch-sync
// (CLI11): --help on every (sub)command, --version, typed options whose errors name the option,
// and one exit-code convention. docs/cli.md lists the command lines.

#include <CLI/CLI.hpp>

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace leafsync {

// The run failed: a bad config file or environment value, a database or broker error, a
// difference found by verify. Logged as one line (event=failed or config_error).
constexpr int kExitRuntime = 1;
// The command line is wrong (unknown option, a value of the wrong type or out of range, a
// missing argument): nothing was started; the message names the option.
constexpr int kExitUsage = 2;

// "leafsync-consumer 0.1.0 (commit 1a2b3c4d5e6f)".
std::string versionLine(const std::string& program);

// The house settings of a binary's top-level app: --version, errors prefixed with the program
// name and followed by where to find the usage.
void configureApp(CLI::App& app, const std::string& program);

// A number greater than 0 (a rate, a duration): refuses "abc", "1x", "0", "-1", "inf" with
// the value quoted; the option's name comes first in CLI11's message.
CLI::Validator positiveNumber();

// Parses argv into `app`. Returns the exit code when the program ends here (0 after --help or
// --version, kExitUsage after a usage error, printed to stderr), std::nullopt to go on.
std::optional<int> parseCommandLine(CLI::App& app, int argc, char** argv);

// --describe: what a binary reads and serves, as one JSON document on stdout (docs/cli.md;
// scripts/check_manifests.py checks the manifests against it). Each part comes from the table
// the binary itself uses: the command line from `app` (CLI11's options, their environment
// variables and defaults), `settings` from the config loader's table ({"keys", "env"}, or null
// for a binary without a config file), `http` from the RouteTable its server registers.
constexpr const char* kDescribeFlag = "--describe";
constexpr const char* kDescribeHelp =
    "print what this binary reads and serves (settings, LEAFSYNC_* variables, HTTP port, routes) as JSON, then exit";
nlohmann::json describeCommandLine(const CLI::App& app);
// The LEAFSYNC_* variables CLI11 reads for options (Option::envname), as --describe lists them.
nlohmann::json describeOptionEnvironment(const CLI::App& app);
// {"key", "env", "default"} of one key of describeConsumerSettings()/describeProducerSettings()
// (where the HTTP port comes from); throws std::logic_error when the table has no such key.
nlohmann::json describeSettingSource(const nlohmann::json& settings, const std::string& key);
std::string describeBinary(const std::string& program, const CLI::App& app, const nlohmann::json& settings,
                           const nlohmann::json& env, const nlohmann::json& http);

// Runs what the command line asked for; what escapes it is a runtime failure (kExitRuntime):
// a ConfigError is logged as config_error, anything else as failed.
int runLogged(const std::function<int()>& body);

}  // namespace leafsync
