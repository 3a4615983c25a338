// An environment variable that selects one of a few named behaviours (LAYERSCOPE_ATTENTION, LAYERSCOPE_CPU_GEMM,
// LAYERSCOPE_CPU_KERNELS): read once by the caller, validated here so that every such variable rejects a typo the
// same way, naming the variable and its values.
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/base/error.h"

namespace layerscope::core {

/// The value of `name` when it is one of `allowed`; "" when unset or empty. Anything else throws InvalidArgument
/// ("NAME must be 'a', 'b' or 'c', found 'x'").
inline std::string envChoice(const char* name, std::initializer_list<std::string_view> allowed) {
  const char* v = std::getenv(name);
  const std::string s = v ? v : "";
  if (s.empty()) return s;
  std::string list;
  std::size_t i = 0;
  for (std::string_view a : allowed) {
    if (a == s) return s;
    list += (i == 0 ? "'" : i + 1 == allowed.size() ? " or '" : ", '") + std::string(a) + "'";
    ++i;
  }
  throw InvalidArgument(std::string(name) + " must be " + list + ", found '" + s + "'");
}

}  // namespace layerscope::core
