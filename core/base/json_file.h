// Reading a whole JSON file with an error that names the file: the error type says which kind of input it was
// (CheckpointError for a model or adapter folder, InvalidArgument for a file the user named, ...).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace layerscope::core {

template <class ErrorType = InvalidArgument>
nlohmann::json readJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ErrorType(path.string() + ": cannot be read");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ErrorType(path.string() + ": invalid JSON: " + e.what());
  }
}

}  // namespace layerscope::core
