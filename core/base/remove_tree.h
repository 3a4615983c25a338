// Recursive removal on POSIX calls, in place of std::filesystem::remove_all. PyTorch's wheels export their own
// copies of libstdc++'s std::filesystem functions; where such a libtorch.so comes before libstdc++ in an
// executable's symbol lookup, std::filesystem::remove_all(path, ec) resolved to libtorch's copy and jumped to a null
// address (model_tests on the GPU machine, docs/gpu.md). Header-only: torch-free code and the tests use it too.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace layerscope::core {

namespace detail {

inline std::uintmax_t removeTreeAt(const std::string& path, std::error_code& ec) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec = std::error_code(errno, std::generic_category());
    return 0;
  }
  std::uintmax_t removed = 0;
  if (S_ISDIR(st.st_mode)) {  // a symbolic link to a folder is removed itself, never followed
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      ec = std::error_code(errno, std::generic_category());
      return 0;
    }
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      removed += removeTreeAt(path + "/" + name, ec);
      if (ec) break;
    }
    ::closedir(d);
    if (ec) return removed;
    if (::rmdir(path.c_str()) != 0) {
      ec = std::error_code(errno, std::generic_category());
      return removed;
    }
  } else if (::unlink(path.c_str()) != 0) {
    ec = std::error_code(errno, std::generic_category());
    return removed;
  }
  return removed + 1;
}

}  // namespace detail

/// Removes `path` and everything below it, as std::filesystem::remove_all(path, ec): the number of files and
/// folders removed; a missing path removes nothing and is no error; on an error `ec` says which.
inline std::uintmax_t removeTree(const std::filesystem::path& path, std::error_code& ec) noexcept {
  ec.clear();
  try {
    return detail::removeTreeAt(path.string(), ec);
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return 0;
  }
}

/// As above, throwing std::filesystem::filesystem_error on an error.
inline std::uintmax_t removeTree(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t n = removeTree(path, ec);
  if (ec) throw std::filesystem::filesystem_error("cannot remove", path, ec);
  return n;
}

}  // namespace layerscope::core
