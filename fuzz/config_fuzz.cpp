// Fuzz target: config.json through loadModelConfig (core/model/config.cpp). Properties: an accepted
// configuration has positive sizes and survives the writer (toHfJson) and the reader again unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/model/config.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  const auto path = fuzz::scratch() / "config.json";
  fuzz::writeFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::guarded([&] {
    const core::ModelConfig c = core::loadModelConfig(path);
    if (c.hiddenSize <= 0 || c.numLayers <= 0 || c.numHeads <= 0 || c.numKvHeads <= 0 || c.headDim <= 0 ||
        c.vocabSize <= 0 || c.intermediateSize <= 0 || c.numHeads % c.numKvHeads != 0)
      fuzz::finding("accepted a configuration with a non-positive size or H % G != 0");
    (void)c.parameterCount();
    (void)c.summary().dump();
    const core::ModelConfig back = core::parseModelConfig(core::toHfJson(c), "round trip");
    if (back.hiddenSize != c.hiddenSize || back.numLayers != c.numLayers || back.headDim != c.headDim ||
        back.numKvHeads != c.numKvHeads || back.vocabSize != c.vocabSize || back.tieWordEmbeddings != c.tieWordEmbeddings)
      fuzz::finding("toHfJson / parseModelConfig round trip changed the configuration");
  });
  return 0;
}
