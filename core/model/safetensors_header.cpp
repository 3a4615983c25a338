// safetensors byte layout, header and index validation (see safetensors_header.h). Validation mirrors the
// reference Rust implementation: header length cap, UTF-8 JSON without duplicate keys, known dtypes,
// shape x size == byte range (overflow-checked), ranges contiguous from 0 without overlap or gap, and data
// covering the rest of the file exactly. Torch-free (compiled into the fuzz targets as is).
#include "core/model/safetensors_header.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace layerscope::core {
namespace {

using nlohmann::json;

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

// Parses JSON text, refusing a key that appears twice in one object (at any depth): nlohmann::json keeps the
// last one silently, so such a file means different things to different readers. `what` names the text.
json parseWithoutDuplicateKeys(const std::string& text, const std::string& source, const std::string& what) {
  std::vector<std::pair<bool, std::set<std::string>>> open;  // innermost container last: (is object, keys)
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open.emplace_back(true, std::set<std::string>{}); break;
      case json::parse_event_t::array_start: open.emplace_back(false, std::set<std::string>{}); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && open.back().first && !open.back().second.insert(parsed.get<std::string>()).second)
          fail(source, what + " lists the key '" + parsed.get<std::string>() +
                           "' twice in one object (ambiguous: the reference implementation refuses it)");
        break;
      case json::parse_event_t::value: break;
    }
    return true;
  };
  try {
    return json::parse(text, callback);  // rejects ill-formed UTF-8 in strings
  } catch (const json::exception& e) {
    fail(source, what + " is not valid UTF-8 JSON: " + e.what());
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
  const json h = parseWithoutDuplicateKeys(headerJson, src, "header");
  if (!h.is_object()) fail(src, "header must be a JSON object, found " + std::string(h.type_name()));
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
  std::vector<std::pair<std::string, const StEntry*>> order;
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

uint64_t safetensorsHeaderLength(const uint8_t* bytes, uint64_t size, const std::string& src) {
  if (size < 8) fail(src, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian
  if (n > kMaxHeader) fail(src, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > size - 8)
    fail(src, "header length " + std::to_string(n) + " runs past the end of the " + std::to_string(size) +
                  "-byte file (truncated?)");
  return n;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

uint64_t parseSafetensorsBytes(const uint8_t* bytes, uint64_t size, const std::string& src,
                               std::map<std::string, StEntry>& entries, std::map<std::string, std::string>& metadata) {
  const uint64_t n = safetensorsHeaderLength(bytes, size, src);
  parseSafetensorsHeader(std::string(reinterpret_cast<const char*>(bytes + 8), n), size - 8 - n, src, entries, metadata);
  return 8 + n;
}

SafetensorsIndex parseSafetensorsIndex(const std::string& text, const std::string& src) {
  const json j = parseWithoutDuplicateKeys(text, src, "index");
  if (!j.is_object() || !j.contains("weight_map") || !j.at("weight_map").is_object())
    fail(src, "missing object 'weight_map'");
  SafetensorsIndex index;
  std::set<std::string> seen;
  for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
    if (!it.value().is_string()) fail(src, "weight_map['" + it.key() + "'] is not a string");
    const std::string shard = it.value().get<std::string>();
    // Shard file names come from a JSON file the user may not have written: never let them escape the directory.
    // "." names the folder itself (found by the fuzzer: fuzz/corpus/safetensors_index/regress-dot-shard).
    if (shard.empty() || shard == "." || shard.find('/') != std::string::npos ||
        shard.find('\\') != std::string::npos || shard.find("..") != std::string::npos ||
        shard.find('\0') != std::string::npos)
      fail(src, "shard name '" + shard + "' is not a plain file name (path separators, '.' and '..' are not allowed)");
    index.shardOf[it.key()] = shard;
    if (seen.insert(shard).second) index.shards.push_back(shard);
  }
  return index;
}

}  // namespace layerscope::core
