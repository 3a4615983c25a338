// Shared by the libFuzzer targets (docs/fuzzing.md). A target feeds one input to one loader through
// `guarded`: LayerScope's typed errors (core/base/error.h) are the expected outcome of bad input; any other
// exception (a JSON library type error, a filesystem or std::stoi exception, ...) would reach the user as
// "internal error" without naming the file and field, so it is a finding and aborts like a crash.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/base/error.h"

namespace layerscope::fuzz {

template <class F>
void guarded(F&& run) {
  try {
    run();
  } catch (const layerscope::Error&) {
    // expected: a typed error naming the file and the problem
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: untyped exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FINDING: non-std exception\n");
    std::abort();
  }
}

/// A property the loader promises failed (e.g. a file it accepted cannot be written back).
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::abort();
}

/// This process's scratch directory (RAM-backed when /dev/shm exists), removed at exit.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("layerscope-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(scratch(), ec); });
    return d;
  }();
  return dir;
}

inline void writeFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
    std::abort();
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Splits a multi-file input. Lines "@@ NAME" start the section NAME (the marker line itself is dropped); bytes
/// before the first marker belong to `first`. The corpus files of the multi-file targets use this layout.
inline std::map<std::string, std::string> sections(std::string_view data, const std::string& first) {
  std::map<std::string, std::string> out;
  std::string name = first;
  size_t pos = 0;
  std::string* cur = &out[name];
  while (pos <= data.size()) {
    size_t eol = data.find('\n', pos);
    const bool last = eol == std::string_view::npos;
    if (last) eol = data.size();
    const std::string_view line = data.substr(pos, eol - pos);
    if (line.size() > 3 && line.substr(0, 3) == "@@ ") {
      cur = &out[std::string(line.substr(3))];
      cur->clear();
    } else {
      cur->append(line);
      if (!last) cur->push_back('\n');
    }
    if (last) break;
    pos = eol + 1;
  }
  return out;
}

/// Source-tree path (the fixed inputs some targets load once, e.g. the demo tokenizer).
inline std::filesystem::path sourcePath(const std::string& rel) {
  return std::filesystem::path(LAYERSCOPE_SOURCE_DIR) / rel;
}

}  // namespace layerscope::fuzz
