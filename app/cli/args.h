// Minimal command-line parsing for layerscope-cli: options are taken by name as a command reads them,
// and finish() rejects anything left over, so a mistyped option is an error instead of silently ignored.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace layerscope::app {

class Args {
 public:
  explicit Args(std::vector<std::string> tokens) : tokens_(std::move(tokens)), used_(tokens_.size(), false) {}

  /// Value of `--name VALUE` (or `--name=VALUE`), if present.
  std::optional<std::string> value(const std::string& name);
  /// Value of a required option; throws InvalidArgument naming it when missing.
  std::string required(const std::string& name);
  /// Value or a default.
  std::string valueOr(const std::string& name, const std::string& fallback);
  /// Integer / floating-point option with a default; throws on a malformed number.
  long long intOr(const std::string& name, long long fallback);
  double doubleOr(const std::string& name, double fallback);
  /// `--name N` with N >= `min`, or `--name KEYWORD` standing for `keywordValue` (e.g. `--batch auto|N`); `fallback`
  /// when absent. Throws InvalidArgument naming both forms otherwise.
  long long intOrKeyword(const std::string& name, long long min, const std::string& keyword, long long keywordValue,
                         long long fallback);
  /// True if the bare flag `--name` is present.
  bool flag(const std::string& name);
  /// Next positional (non-option) argument, in order; `what` names it in the error when missing.
  std::string positional(const std::string& what);
  std::optional<std::string> optionalPositional();
  /// Throws InvalidArgument listing every token no one consumed.
  void finish() const;

 private:
  std::vector<std::string> tokens_;
  std::vector<bool> used_;
};

/// Splits "a,b,,c" into {"a", "b", "c"} (empty entries dropped).
std::vector<std::string> splitCommaList(const std::string& text);

/// Parses "1,2,3" into integers; throws InvalidArgument naming `what` on a bad entry.
std::vector<long long> parseIntList(const std::string& text, const std::string& what);

}  // namespace layerscope::app
