// Write-to-temporary-then-rename, so a crash or an error never leaves a half-written output file.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace layerscope::core {

/// Calls `write` with a stream to a temporary file beside `path`, then renames it over `path`.
/// If `write` throws or the stream fails, the temporary file is removed and the error propagates.
void writeFileAtomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

/// Same for a whole string.
void writeFileAtomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace layerscope::core
