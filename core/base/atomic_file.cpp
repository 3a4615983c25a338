// Write-to-temporary-then-rename (see atomic_file.h).
#include "core/base/atomic_file.h"

#include <fstream>
#include <random>

#include "core/base/error.h"

namespace layerscope::core {

void writeFileAtomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) {
    throw Error("cannot write '" + path.string() + "': directory '" + dir.string() + "' does not exist");
  }
  std::random_device rd;
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error("cannot create temporary file '" + tmp.string() + "'");
      write(out);
      out.flush();
      if (!out) throw Error("write failed for '" + tmp.string() + "' (disk full?)");
    }
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void writeFileAtomically(const std::filesystem::path& path, const std::string& contents) {
  writeFileAtomically(path, [&](std::ostream& out) { out.write(contents.data(), std::streamsize(contents.size())); });
}

}  // namespace layerscope::core
