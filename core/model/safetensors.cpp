// safetensors reading and writing (see safetensors.h). Validation mirrors the reference Rust implementation:
// header length cap, UTF-8 JSON, known dtypes, shape x size == byte range (overflow-checked), ranges
// contiguous from 0 without overlap or gap, and data covering the rest of the file exactly.
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

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's cap

struct DtypeInfo {
  const char* name;
  StDtype dtype;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", StDtype::BOOL, 1}, {"U8", StDtype::U8, 1},   {"I8", StDtype::I8, 1},     {"I16", StDtype::I16, 2},
    {"U16", StDtype::U16, 2},   {"F16", StDtype::F16, 2}, {"BF16", StDtype::BF16, 2}, {"I32", StDtype::I32, 4},
    {"U32", StDtype::U32, 4},   {"F32", StDtype::F32, 4}, {"F64", StDtype::F64, 8},   {"I64", StDtype::I64, 8},
    {"U64", StDtype::U64, 8},   {"F8_E5M2", StDtype::F8_E5M2, 1}, {"F8_E4M3", StDtype::F8_E4M3, 1}};

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

std::string dtypeName(StDtype d) {
  for (const auto& i : kDtypes)
    if (i.dtype == d) return i.name;
  return "?";
}
size_t dtypeSize(StDtype d) {
  for (const auto& i : kDtypes)
    if (i.dtype == d) return i.size;
  return 0;
}

void parseSafetensorsHeader(const std::string& headerJson, uint64_t dataSize, const std::string& src,
                            std::map<std::string, StEntry>& entries, std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  json h;
  try {
    h = json::parse(headerJson);  // rejects ill-formed UTF-8 in strings
  } catch (const json::exception& e) {
    fail(src, std::string("header is not valid UTF-8 JSON: ") + e.what());
  }
  if (!h.is_object()) fail(src, "header must be a JSON object, found " + std::string(h.type_name()));
  std::vector<std::pair<std::string, const StEntry*>> order;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(src, "__metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(src, "__metadata__ value for '" + m.key() + "' must be a string");
        metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object()) fail(src, where + ": header entry must be an object");
    if (!v.contains("dtype") || !v.at("dtype").is_string()) fail(src, where + ": missing or non-string 'dtype'");
    if (!v.contains("shape") || !v.at("shape").is_array()) fail(src, where + ": missing or non-array 'shape'");
    if (!v.contains("data_offsets") || !v.at("data_offsets").is_array() || v.at("data_offsets").size() != 2)
      fail(src, where + ": 'data_offsets' must be an array [begin, end]");
    StEntry e;
    const std::string dt = v.at("dtype").get<std::string>();
    bool known = false;
    for (const auto& i : kDtypes)
      if (dt == i.name) {
        e.dtype = i.dtype;
        known = true;
      }
    if (!known) fail(src, where + ": unknown dtype '" + dt + "'");
    uint64_t count = 1;
    for (const auto& d : v.at("shape")) {
      if (!d.is_number_unsigned()) fail(src, where + ": shape entries must be non-negative integers, found " + d.dump());
      uint64_t x = d.get<uint64_t>();
      if (x > uint64_t(INT64_MAX) || (x != 0 && count > UINT64_MAX / x)) fail(src, where + ": shape overflows");
      count *= x;
      e.shape.push_back(int64_t(x));
    }
    for (const auto& o : v.at("data_offsets"))
      if (!o.is_number_unsigned()) fail(src, where + ": data_offsets must be non-negative integers");
    e.begin = v.at("data_offsets")[0].get<uint64_t>();
    e.end = v.at("data_offsets")[1].get<uint64_t>();
    if (e.end < e.begin) fail(src, where + ": data_offsets end < begin");
    const uint64_t esize = dtypeSize(e.dtype);
    if (count > UINT64_MAX / esize) fail(src, where + ": byte size overflows");
    if (count * esize != e.end - e.begin)
      fail(src, where + ": shape x dtype size = " + std::to_string(count * esize) + " bytes but data_offsets span " +
                    std::to_string(e.end - e.begin) + " bytes");
    entries[name] = std::move(e);
  }
  for (const auto& [name, e] : entries) order.emplace_back(name, &e);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->begin != b.second->begin ? a.second->begin < b.second->begin : a.second->end < b.second->end;
  });
  uint64_t expected = 0;
  for (const auto& [name, e] : order) {
    if (e->begin != expected)
      fail(src, "tensor '" + name + "' starts at data offset " + std::to_string(e->begin) + " but the previous data ends at " +
                    std::to_string(expected) + (e->begin < expected ? " (overlapping ranges)" : " (gap between ranges)"));
    expected = e->end;
  }
  if (expected != dataSize)
    fail(src, "tensor data covers " + std::to_string(expected) + " bytes but the file holds " + std::to_string(dataSize) +
                  " bytes after the header" + (expected > dataSize ? " (file truncated?)" : " (trailing bytes)"));
}

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
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | f->base_[i];  // little-endian
  if (n > kMaxHeader) fail(src, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8)
    fail(src, "header length " + std::to_string(n) + " runs past the end of the " + std::to_string(size) +
                  "-byte file (truncated?)");
  f->dataStart_ = 8 + n;
  parseSafetensorsHeader(std::string(reinterpret_cast<const char*>(f->base_ + 8), n), size - 8 - n, src, f->entries_,
                         f->metadata_);
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

void writeSafetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  using nlohmann::json;
  std::vector<std::pair<std::string, torch::Tensor>> sorted;
  for (const auto& [name, t] : tensors) sorted.emplace_back(name, t.detach().to(torch::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const StDtype d = fromTorch(t.scalar_type(), name);
    const uint64_t bytes = uint64_t(t.numel()) * dtypeSize(d);
    header[name] = {{"dtype", dtypeName(d)}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
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
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()), std::streamsize(t.numel() * t.element_size()));
  });
}

}  // namespace layerscope::core
