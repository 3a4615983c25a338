// Small random byte-level checkpoints for the tests of model, train, analysis and experiments: one config
// builder and one fixture helper that writes a checkpoint plus a byte-level tokenizer.json into a temporary
// folder once per test suite. Links layerscope::model (header-only, so torch-free test executables never see it).
#pragma once

#include <filesystem>
#include <memory>

#include "core/model/config.h"
#include "core/model/model.h"
#include "core/model/random_checkpoint.h"
#include "core/text/byte_tokenizer.h"
#include "core/text/tokenizer.h"
#include "tests/common/test_util.h"

namespace layerscope::test {

/// Shape of a small GQA model over the byte-level vocabulary (core::kByteVocabSize).
struct TinyShape {
  int hidden = 32, intermediate = 64, layers = 3, heads = 8, kvHeads = 2, headDim = 4, maxPositions = 256;
  bool byteSpecialIds = false;  ///< set bos/eos to the byte tokenizer's ids
};

inline core::ModelConfig byteConfig(const TinyShape& s = {}) {
  core::ModelConfig c;
  c.hiddenSize = s.hidden, c.intermediateSize = s.intermediate, c.numLayers = s.layers, c.numHeads = s.heads;
  c.numKvHeads = s.kvHeads, c.headDim = s.headDim;
  c.vocabSize = core::kByteVocabSize, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = s.maxPositions;
  if (s.byteSpecialIds) c.bosTokenId = core::kByteBos, c.eosTokenId = core::kByteEos;
  return c;
}

/// A random checkpoint of `config` with a byte-level tokenizer, in its own temporary folder (removed with it).
class TinyByteModel {
 public:
  TinyByteModel(const core::ModelConfig& config, const core::RandomCheckpointOptions& options) {
    core::writeRandomCheckpoint(dir_.path(), config, options);
    core::writeByteLevelTokenizer(dir_.path());
    tokenizer_ = std::make_unique<core::Tokenizer>(core::Tokenizer::fromFile(dir_.path()));
  }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::shared_ptr<const core::LlamaModel> load(torch::ScalarType dtype = torch::kFloat32) const {
    return core::LlamaModel::load(dir_.path(), dtype);
  }
  const core::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  TempDir dir_;
  std::unique_ptr<core::Tokenizer> tokenizer_;
};

}  // namespace layerscope::test
