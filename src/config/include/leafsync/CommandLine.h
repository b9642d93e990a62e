#pragma once

// The command-line layer shared by leafsync-consumer, leafsync-producer and leafsync-batch-sync
// (CLI11): --help on every (sub)command, --version, typed options whose errors name the option,
// and one exit-code convention. docs/cli.md lists the command lines.

#include <CLI/CLI.hpp>

#include <functional>
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

// Runs what the command line asked for; what escapes it is a runtime failure (kExitRuntime):
// a ConfigError is logged as config_error, anything else as failed.
int runLogged(const std::function<int()>& body);

}  // namespace leafsync
