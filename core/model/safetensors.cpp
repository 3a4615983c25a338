// safetensors reading and writing (see safetensors.h): the memory mapping and the tensors. Validation of the
// bytes is safetensors_header.cpp (torch-free, fuzzed).
#include "core/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace layerscope::core {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw CheckpointError(source + ": " + what);
}

std::optional<torch::ScalarType> torchType(StDtype d) {
  switch (d) {
    case StDtype::F32: return torch::kFloat32;
    case StDtype::F16: return torch::kFloat16;
    case StDtype::BF16: return torch::kBFloat16;
    case StDtype::F64: return torch::kFloat64;
    case StDtype::I64: return torch::kInt64;
    case StDtype::I32: return torch::kInt32;
    case StDtype::I16: return torch::kInt16;
    case StDtype::I8: return torch::kInt8;
    case StDtype::U8: return torch::kUInt8;
    case StDtype::BOOL: return torch::kBool;
    default: return std::nullopt;
  }
}

StDtype fromTorch(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kFloat32: return StDtype::F32;
    case torch::kFloat16: return StDtype::F16;
    case torch::kBFloat16: return StDtype::BF16;
    case torch::kFloat64: return StDtype::F64;
    case torch::kInt64: return StDtype::I64;
    case torch::kInt32: return StDtype::I32;
    case torch::kUInt8: return StDtype::U8;
    case torch::kBool: return StDtype::BOOL;
    default: throw InvalidArgument("cannot write tensor '" + name + "': unsupported dtype");
  }
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string src = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(src, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(src, "not a regular file");
  }
  const uint64_t size = uint64_t(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(src, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(src, std::string("mmap failed: ") + std::strerror(errno));
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->base_ = static_cast<const uint8_t*>(map);
  f->size_ = size;
  f->self_ = f;
  f->dataStart_ = parseSafetensorsBytes(f->base_, size, src, f->entries_, f->metadata_);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) munmap(const_cast<uint8_t*>(base_), size_);
}

const StEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_.string(), "no tensor named '" + name + "'");
  return it->second;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const StEntry& e = entry(name);
  auto t = torchType(e.dtype);
  if (!t) fail(path_.string(), "tensor '" + name + "' has dtype " + dtypeName(e.dtype) + ", which LayerScope cannot load");
  void* ptr = const_cast<uint8_t*>(base_ + dataStart_ + e.begin);
  auto opts = torch::TensorOptions().dtype(*t);
  if (reinterpret_cast<uintptr_t>(ptr) % dtypeSize(e.dtype) != 0)
    return torch::from_blob(ptr, e.shape, opts).clone();  // misaligned: copy
  auto keep = self_.lock();
  return torch::from_blob(ptr, e.shape, [keep](void*) {}, opts);
}

uint64_t StreamedTensor::bytes() const {
  uint64_t n = dtypeSize(dtype);
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

void writeSafetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<StreamedTensor> sorted;
  for (const auto& [name, t] : tensors)
    sorted.push_back({name, fromTorch(t.scalar_type(), name), t.sizes().vec(), [t = t] { return t; }});
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  writeSafetensorsStreaming(path, sorted, metadata);
}

void writeSafetensorsStreaming(const std::filesystem::path& path, const std::vector<StreamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (header.contains(t.name)) throw InvalidArgument(path.string() + ": tensor '" + t.name + "' listed twice");
    const uint64_t bytes = t.bytes();
    header[t.name] = {{"dtype", dtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - (8 + h.size()) % 8) % 8, ' ');  // pad so the data section starts 8-byte aligned
  writeFileAtomically(path, [&](std::ostream& out) {
    uint64_t n = h.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = char((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (const auto& spec : tensors) {
      const auto type = torchType(spec.dtype);
      if (!type) throw InvalidArgument(path.string() + ": cannot write dtype " + dtypeName(spec.dtype));
      torch::Tensor t = spec.make().detach().to(torch::kCPU, *type).contiguous();
      if (t.sizes().vec() != spec.shape)
        throw Error(path.string() + ": tensor '" + spec.name + "' was made with shape " + shapeText(t.sizes().vec()) +
                    ", declared " + shapeText(spec.shape));
      out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
    }
  });
}

}  // namespace layerscope::core
