// Bundled-data lookup (app/bundled_data.h). LAYERSCOPE_DATA_RELDIR (bindir -> datadir/layerscope, relative) and, in
// developer builds only, LAYERSCOPE_SOURCE_RESOURCES come from app/CMakeLists.txt; this is the only file that sees them.
#include "app/bundled_data.h"

#include <cstdlib>
#include <system_error>

namespace layerscope::app {

namespace fs = std::filesystem;

std::vector<fs::path> bundledDataRoots() {
  std::vector<fs::path> roots;
  if (const char* dir = std::getenv("LAYERSCOPE_DATA_DIR"); dir && *dir) roots.emplace_back(dir);
  // The executable's real location (symlinks resolved), so a link in another bin/ still finds the prefix.
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back((exe.parent_path() / LAYERSCOPE_DATA_RELDIR).lexically_normal());
#ifdef LAYERSCOPE_SOURCE_RESOURCES
  roots.emplace_back(LAYERSCOPE_SOURCE_RESOURCES);
#endif
  return roots;
}

fs::path findBundledData(const fs::path& rel) {
  for (const fs::path& root : bundledDataRoots()) {
    std::error_code ec;
    if (fs::exists(root / rel, ec)) return (root / rel).lexically_normal();
  }
  return {};
}

}  // namespace layerscope::app
