// Write-to-temporary-then-rename (see atomic_file.h).
#include "core/base/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "core/base/error.h"
#include "core/base/remove_tree.h"

namespace layerscope::core {
namespace fs = std::filesystem;

void crashPointBeforeRename(const fs::path& target) {
  static const std::string spec = [] {
    const char* v = std::getenv("LAYERSCOPE_CRASH_BEFORE_RENAME");
    return std::string(v ? v : "");
  }();
  if (spec.empty()) return;
  std::string name = spec;
  long wanted = 1;
  if (const auto colon = spec.rfind(':'); colon != std::string::npos) {
    name = spec.substr(0, colon);
    wanted = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
  }
  static std::atomic<long> seen{0};
  if (target.filename() == name && ++seen == wanted) ::kill(::getpid(), SIGKILL);
}

namespace {

// Flushes a written file to the disk, so that the rename never publishes a file whose data a power loss could
// still lose. Best effort: a file system without fsync support is not an error.
void syncFile(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && (err == ENOSPC || err == EIO || err == EDQUOT))
    throw Error("write failed for '" + p.string() + "': " + std::strerror(err));
}

bool processAlive(long pid) { return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM); }

// Removes the entries of `dir` named `<stem><pid>-...` whose process no longer runs (leftovers of killed runs).
void removeLeftovers(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  std::vector<fs::path> dead;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > stem.size() && n.compare(0, stem.size(), stem) == 0 &&
        !processAlive(std::strtol(n.c_str() + stem.size(), nullptr, 10)))
      dead.push_back(e.path());
  }
  for (const auto& p : dead) removeTree(p, ec);
}

}  // namespace

void writeFileAtomically(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) {
    throw Error("cannot write '" + path.string() + "': directory '" + dir.string() + "' does not exist");
  }
  // `.<name>.tmp-<pid>-<n>`: the temporary file of a killed writer is removed by the next write of the same file.
  std::string stem = ".";  // appended piecewise: gcc 12 -O3 warns (-Wrestrict, a false positive) on "." + s + "..."
  stem += path.filename().string();
  stem += ".tmp-";
  removeLeftovers(dir, stem);
  std::random_device rd;
  const fs::path tmp = dir / (stem + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error("cannot create temporary file '" + tmp.string() + "'");
      write(out);
      out.flush();
      if (!out) throw Error("write failed for '" + path.string() + "' (disk full or file size limit?)");
      out.close();  // the last buffered bytes reach the file system here: a failure is a failed write too
      if (out.fail()) throw Error("write failed for '" + path.string() + "' (disk full or file size limit?)");
    }
    syncFile(tmp);
    crashPointBeforeRename(path);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void writeFileAtomically(const fs::path& path, const std::string& contents) {
  writeFileAtomically(path, [&](std::ostream& out) { out.write(contents.data(), std::streamsize(contents.size())); });
}

namespace {
// "out/" names the folder "out": without this its filename() is empty and the staging folder would land inside it.
fs::path withoutTrailingSeparator(const fs::path& dir) {
  return dir.has_filename() || !dir.has_parent_path() ? dir : dir.parent_path();
}
}  // namespace

fs::path makeStagingDirectory(const fs::path& given) {
  const fs::path dir = withoutTrailingSeparator(given);
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  fs::create_directories(parent);
  const std::string stem = dir.filename().string() + ".incomplete-";
  removeLeftovers(parent, stem);
  std::random_device rd;
  for (int attempt = 0;; ++attempt) {
    const fs::path p = parent / (stem + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000));
    if (fs::create_directory(p)) return p;
    if (attempt > 100) throw Error("cannot create a staging directory beside '" + dir.string() + "'");
  }
}

void commitStagingDirectory(const fs::path& staging, const fs::path& given, bool overwrite) {
  const fs::path dir = withoutTrailingSeparator(given);
  crashPointBeforeRename(dir);
  if (!fs::exists(dir)) {
    fs::rename(staging, dir);
    return;
  }
  if (!overwrite) throw InvalidArgument("'" + dir.string() + "' already exists");
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    removeTree(staging);  // now holds the old contents
    return;
  }
  // No RENAME_EXCHANGE on this file system: move the old one aside under a visible name, then the new one in.
  const fs::path old = fs::path(staging.string() + ".replaced");
  fs::rename(dir, old);
  fs::rename(staging, dir);
  removeTree(old);
}

void writeDirectoryAtomically(const fs::path& dir, bool overwrite, const std::function<void(const fs::path&)>& write) {
  const fs::path staging = makeStagingDirectory(dir);
  try {
    write(staging);
    commitStagingDirectory(staging, dir, overwrite);
  } catch (...) {
    std::error_code ec;
    removeTree(staging, ec);
    throw;
  }
}

}  // namespace layerscope::core
