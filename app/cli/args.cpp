// Minimal command-line parsing for layerscope-cli (see args.h).
#include "app/cli/args.h"

#include <charconv>
#include <cstdlib>

#include "core/base/error.h"

namespace layerscope::app {

std::optional<std::string> Args::value(const std::string& name) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (used_[i]) continue;
    const std::string& t = tokens_[i];
    if (t == name) {
      if (i + 1 >= tokens_.size()) throw InvalidArgument("option " + name + " needs a value");
      used_[i] = used_[i + 1] = true;
      return tokens_[i + 1];
    }
    if (t.rfind(name + "=", 0) == 0) {
      used_[i] = true;
      return t.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

std::string Args::required(const std::string& name) {
  auto v = value(name);
  if (!v) throw InvalidArgument("missing required option " + name);
  return *v;
}

std::string Args::valueOr(const std::string& name, const std::string& fallback) {
  auto v = value(name);
  return v ? *v : fallback;
}

namespace {
std::optional<long long> parseInteger(const std::string& text) {
  long long out = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return out;
}
}  // namespace

long long Args::intOr(const std::string& name, long long fallback) {
  auto v = value(name);
  if (!v) return fallback;
  const auto out = parseInteger(*v);
  if (!out) throw InvalidArgument("option " + name + " expects an integer, got '" + *v + "'");
  return *out;
}

long long Args::intOrKeyword(const std::string& name, long long min, const std::string& keyword, long long keywordValue,
                             long long fallback) {
  auto v = value(name);
  if (!v) return fallback;
  if (*v == keyword) return keywordValue;
  const auto out = parseInteger(*v);
  if (!out || *out < min)
    throw InvalidArgument("option " + name + " expects " + keyword + " or an integer of at least " + std::to_string(min) +
                          ", got '" + *v + "'");
  return *out;
}

double Args::doubleOr(const std::string& name, double fallback) {
  auto v = value(name);
  if (!v) return fallback;
  char* end = nullptr;
  double out = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size())
    throw InvalidArgument("option " + name + " expects a number, got '" + *v + "'");
  return out;
}

bool Args::flag(const std::string& name) {
  bool found = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!used_[i] && tokens_[i] == name) used_[i] = found = true;
  }
  return found;
}

std::optional<std::string> Args::optionalPositional() {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (used_[i]) continue;
    if (tokens_[i].rfind("--", 0) == 0) return std::nullopt;  // options come after positionals
    used_[i] = true;
    return tokens_[i];
  }
  return std::nullopt;
}

std::string Args::positional(const std::string& what) {
  auto v = optionalPositional();
  if (!v) throw InvalidArgument("missing argument " + what);
  return *v;
}

void Args::finish() const {
  std::string left;
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (!used_[i]) left += (left.empty() ? "" : " ") + tokens_[i];
  if (!left.empty()) throw InvalidArgument("unknown or unused arguments: " + left);
}

std::vector<std::string> splitCommaList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<long long> parseIntList(const std::string& text, const std::string& what) {
  std::vector<long long> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    long long v = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size())
      throw InvalidArgument(what + ": '" + item + "' is not an integer (expected a list like 1,2,3)");
    out.push_back(v);
    start = comma + 1;
    if (comma == text.size()) break;
  }
  return out;
}

}  // namespace layerscope::app
