// Checkpoint directory opening (see checkpoint.h): the torch-free validation of checkpoint_layout.cpp, then the
// memory mapping of every file.
#include "core/model/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include "core/base/error.h"
#include "core/model/torch_compat.h"

namespace layerscope::core {
namespace fs = std::filesystem;

namespace {

bool sameEntries(const std::map<std::string, StEntry>& a, const std::map<std::string, StEntry>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return x.first == y.first && x.second.dtype == y.second.dtype && x.second.shape == y.second.shape &&
                  x.second.begin == y.second.begin && x.second.end == y.second.end;
         });
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& dir) {
  Checkpoint ck;
  ck.layout_ = CheckpointLayout::open(dir);
  for (const auto& shard : ck.layout_.shards()) {
    auto file = SafetensorsFile::open(shard.path);  // validates the mapped bytes again
    if (!sameEntries(file->entries(), shard.entries))
      throw CheckpointError(shard.path.string() + ": the file changed while it was being opened");
    ck.files_.push_back(std::move(file));
  }
  return ck;
}

torch::Tensor Checkpoint::tensor(const std::string& name) const {
  return files_[layout_.shardOf(name)]->tensor(name);
}

namespace {

// Drops the pages of a mapped tensor that were faulted in while it was copied (MADV_DONTNEED on a read-only
// file mapping: the bytes stay in the page cache and fault in again, unchanged, if read). Only whole pages
// inside the tensor's bytes, and only for storage that is the mapping itself (a misaligned tensor is a copy).
void releaseMappedPages(const torch::Tensor& view) {
  if (!compat::isForeignStorage(view)) return;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(view.data_ptr());
  const uintptr_t end = begin + uintptr_t(view.nbytes());
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);  // advisory: errors ignored
}

}  // namespace

torch::Tensor Checkpoint::load(const std::string& name, torch::ScalarType dtype, c10::Device device) const {
  torch::Tensor view = tensor(name);
  if (device.is_cpu() && view.scalar_type() == dtype) return view;  // aliases the mapping: nothing to copy
  torch::Tensor out = int64_t(c10::elementSize(dtype)) < view.element_size() ? view.to(dtype).to(device)
                                                                     : view.to(device).to(dtype);
  // A device copy from pageable host memory has completed when to() returns, so the pages can go.
  releaseMappedPages(view);
  return out;
}

}  // namespace layerscope::core
