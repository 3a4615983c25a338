// Fuzz target: an adapter directory's JSON files (adapter_config.json for PEFT LoRA, garfa_config.json for
// GARFA) through readAdapterSpec (core/train/adapter_config.cpp) against the demo model's configuration; the
// adapter weight files are safetensors and go through safetensors_fuzz. Sections (fuzz_util.h):
// "@@ adapter_config.json" and/or "@@ garfa_config.json". Property: an accepted spec fits the model.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/train/adapter_config.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  static const core::ModelConfig config = core::loadModelConfig(fuzz::sourcePath("resources/models/demo/config.json"));
  const auto dir = fuzz::scratch() / "adapter";
  std::filesystem::create_directories(dir);
  auto parts = fuzz::sections(std::string_view(reinterpret_cast<const char*>(data), size), "");
  for (const char* name : {core::kPeftConfigFile, core::kGarfaConfigFile}) {
    std::error_code ec;
    std::filesystem::remove(dir / name, ec);
    if (auto it = parts.find(name); it != parts.end()) fuzz::writeFile(dir / name, it->second);
  }
  fuzz::guarded([&] {
    const core::AdapterSpec spec = core::readAdapterSpec(dir, config);
    for (int l : spec.lora.layers)
      if (l < 0 || l >= config.numLayers) fuzz::finding("accepted a LoRA layer outside the model");
    for (int l : spec.garfa.layers)
      if (l < 0 || l >= config.numLayers) fuzz::finding("accepted a GARFA layer outside the model");
    if (!spec.lora.layers.empty() && (spec.lora.rank < 1 || spec.lora.rank > 4 * config.intermediateSize))
      fuzz::finding("accepted an unbounded LoRA rank");
    (void)core::formatLayerList(spec.lora.layers);
  });
  return 0;
}
