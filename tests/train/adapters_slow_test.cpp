// Slow: a short LS-LoRA + GARFA run on a learnable task measurably improves held-out accuracy on a small random
// byte-level model (the demo model is not needed, so the test runs anywhere). Seeded; margin stated below.
#include <gtest/gtest.h>

#include "core/train/adapter_training.h"
#include "core/text/byte_tokenizer.h"
#include "core/model/random_checkpoint.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

// "t: qd A:" -> " yes" when the first letter is in a..m, else " no" (needs attention back to a fixed offset).
Task halfTask(int from, int to) {
  std::vector<McItem> items;
  for (int i = from; i < to; ++i) {
    const int pair = (i * 173) % 676;  // 173 is coprime with 676: a permutation of all letter pairs, so
    const int a = pair / 26, b = pair % 26;  // disjoint index ranges give disjoint prompts
    std::string p = "t: ";
    p += char('a' + a);
    p += char('a' + b);
    p += " A:";
    items.push_back({"h" + std::to_string(i), p, {" yes", " no"}, a < 13 ? 0u : 1u});
  }
  Task t;
  t.name = "half";
  t.items = items;
  return t;
}

}  // namespace

TEST(SlowAdapters, ShortLoraGarfaRunImprovesHeldOutAccuracy) {
  ModelConfig c;
  c.hiddenSize = 64, c.intermediateSize = 128, c.numLayers = 2, c.numHeads = 4, c.numKvHeads = 2, c.headDim = 16;
  c.vocabSize = kByteVocabSize, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = 64;
  c.bosTokenId = kByteBos, c.eosTokenId = kByteEos;
  test::TempDir dir;
  writeRandomCheckpoint(dir.path(), c, {.seed = 3, .weightStd = 0.1});
  writeByteLevelTokenizer(dir.path());
  auto model = LlamaModel::load(dir.path(), torch::kFloat32);
  auto tok = Tokenizer::fromFile(dir.path());
  const Task train = halfTask(0, 400), heldout = halfTask(400, 520);
  const auto prepared = prepareTask(tok, heldout);

  AdapterSpec spec;
  spec.lora.layers = {0, 1};
  spec.lora.rank = 8;
  spec.garfa.layers = {0, 1};
  auto adapters = AdapterSet::create(c, spec, 1234);
  const double base = evaluateWithAdapter(*model, nullptr, tok, prepared).accuracy;
  AdapterTrainOptions o;
  o.steps = 150, o.batchSize = 16, o.loraLr = 3e-3, o.garfaLr = 1e-2, o.seed = 1234, o.checkpointEvery = 0;
  o.completionSuffix = "";
  auto res = trainAdapters(*model, adapters, tok, train, o);
  const double tuned = evaluateWithAdapter(*model, &adapters, tok, prepared).accuracy;
  std::printf("held-out accuracy: base %.3f, LS-LoRA + GARFA %.3f (%.1f s, loss %.3f -> %.3f)\n", base, tuned, res.seconds,
              res.losses.front(), res.losses.back());
  // Stated margin: at least +20 accuracy points on 120 held-out items (chance is ~50%).
  EXPECT_GE(tuned, base + 0.20);
  EXPECT_LT(res.losses.back(), res.losses.front());
}
