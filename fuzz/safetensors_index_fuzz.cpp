// Fuzz target: model.safetensors.index.json (core/model/safetensors_header.cpp, parseSafetensorsIndex).
// Property: every accepted shard name is a plain file name inside the model folder.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model/safetensors_header.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  fuzz::guarded([&] {
    const auto index = core::parseSafetensorsIndex(std::string(reinterpret_cast<const char*>(data), size),
                                                   "fuzz/model.safetensors.index.json");
    for (const auto& shard : index.shards) {
      const std::filesystem::path p(shard);
      if (shard.empty() || p.has_parent_path() || p.filename() != p || shard == "." || shard == "..")
        fuzz::finding("shard name '" + shard + "' is not a plain file name");
    }
    for (const auto& [tensor, shard] : index.shardOf)
      if (std::find(index.shards.begin(), index.shards.end(), shard) == index.shards.end())
        fuzz::finding("tensor '" + tensor + "' maps to an unlisted shard");
  });
  return 0;
}
