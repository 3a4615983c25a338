// Fuzz target: a whole safetensors file's bytes through the validation SafetensorsFile::open runs
// (core/model/safetensors_header.cpp). Property: an accepted header describes ranges inside the file.
#include <cstddef>
#include <cstdint>

#include "core/model/safetensors_header.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  fuzz::guarded([&] {
    std::map<std::string, core::StEntry> entries;
    std::map<std::string, std::string> metadata;
    const uint64_t start = core::parseSafetensorsBytes(data, size, "fuzz.safetensors", entries, metadata);
    if (start > size) fuzz::finding("data section starts past the end of the file");
    for (const auto& [name, e] : entries) {
      if (e.end > size - start || e.begin > e.end) fuzz::finding("tensor '" + name + "' has a range outside the data");
      uint64_t count = 1;
      for (int64_t d : e.shape) {
        if (d < 0) fuzz::finding("tensor '" + name + "' has a negative dimension");
        count *= uint64_t(d);
      }
      if (count * core::dtypeSize(e.dtype) != e.end - e.begin) fuzz::finding("tensor '" + name + "' size mismatch");
    }
  });
  return 0;
}
