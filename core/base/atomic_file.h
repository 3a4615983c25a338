// Write-to-temporary-then-rename, so a crash or an error never leaves a half-written output file, and the same
// for whole output directories (docs/hardening.md: crash-safety guarantees).
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace layerscope::core {

/// Calls `write` with a stream to a temporary file beside `path`, then renames it over `path`.
/// If `write` throws or the stream fails (disk full, file size limit), the temporary file is removed, `path`
/// keeps its previous contents, and an Error naming the file propagates.
void writeFileAtomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

/// Same for a whole string.
void writeFileAtomically(const std::filesystem::path& path, const std::string& contents);

/// A new, empty directory beside `dir` to build its replacement in, named `<name>.incomplete-<pid>-<n>` so that
/// the leftover of a killed run is visible. Leftovers of processes that no longer run are removed first.
std::filesystem::path makeStagingDirectory(const std::filesystem::path& dir);

/// Moves a complete staging directory to `dir`. If `dir` exists: without `overwrite` an InvalidArgument; with
/// it the two are swapped in one step (renameat2 RENAME_EXCHANGE, or two renames where the file system lacks
/// it) and the old contents deleted, so `dir` always holds the old or the new complete contents.
void commitStagingDirectory(const std::filesystem::path& staging, const std::filesystem::path& dir, bool overwrite);

/// The two together, as writeFileAtomically is for a file: calls `write` with a new staging directory beside `dir`,
/// then commits it. If `write` or the commit throws, the staging directory is removed and `dir` is as it was.
void writeDirectoryAtomically(const std::filesystem::path& dir, bool overwrite,
                              const std::function<void(const std::filesystem::path& staging)>& write);

/// Crash-test hook: when the environment variable LAYERSCOPE_CRASH_BEFORE_RENAME is `NAME` or `NAME:N`, the
/// N-th (default first) rename of a file or directory called NAME into place kills the process (SIGKILL) just
/// before it happens, with the temporary copy complete. Called by the functions above.
void crashPointBeforeRename(const std::filesystem::path& target);

}  // namespace layerscope::core
