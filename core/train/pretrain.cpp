// Pretraining recipes (see pretrain.h). Rows pack whole documents "<|bos|>prompt completion" up to the context
// length; the loss weights completion tokens 1 and prompt tokens `promptLossWeight`.
#include "core/train/pretrain.h"

#include <chrono>
#include <cmath>
#include <ctime>

#include "core/base/atomic_file.h"
#include "core/text/byte_tokenizer.h"
#include "core/model/checkpoint.h"
#include "core/base/error.h"
#include "core/base/stopwatch.h"
#include "core/model/model.h"
#include "core/model/names.h"
#include "core/model/safetensors.h"
#include "core/data/task_suite.h"
#include "layerscope/version.h"

namespace layerscope::core {
namespace fs = std::filesystem;

PretrainRecipe pretrainRecipe(const std::string& name) {
  if (name != "demo" && name != "tiny")
    throw InvalidArgument("unknown pretraining recipe '" + name + "' (available: demo, tiny)");
  PretrainRecipe r;
  ModelConfig& c = r.config;
  c.modelType = "llama";
  c.hiddenSize = 128, c.intermediateSize = 384, c.numLayers = 12, c.numHeads = 8, c.numKvHeads = 2, c.headDim = 16;
  c.vocabSize = kByteVocabSize, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = 128;
  c.bosTokenId = kByteBos, c.eosTokenId = kByteEos;
  if (name == "tiny") {  // seconds, for tests: 2 layers, D 32
    c.hiddenSize = 32, c.intermediateSize = 96, c.numLayers = 2, c.numHeads = 4, c.numKvHeads = 1, c.headDim = 8;
    r.batchRows = 8, r.steps = 60, r.warmup = 10;
    return r;
  }
  // demo: the families that a 1200-step equal-weight run left at chance (recall, order comparison, addition)
  // get three times the weight of those it had already learned (indexing, copying, reversing).
  r.mix.weights = {{TaskFamily::KvRecall, 3u}, {TaskFamily::ListIndex, 1u}, {TaskFamily::FirstOfTwo, 3u},
                   {TaskFamily::Copy, 1u},     {TaskFamily::Reverse, 1u},   {TaskFamily::Add, 3u}};
  return r;
}

namespace {

// Weights as HF initialises Llama (normal, std 0.02; norms 1), with the residual projections (o, down) scaled
// by 1/sqrt(2L) as GPT-2 does, which keeps deep small models stable.
std::map<std::string, torch::Tensor> initWeights(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  std::map<std::string, torch::Tensor> w;
  const double residualStd = 0.02 / std::sqrt(2.0 * c.numLayers);
  // Pretraining (the bundled demo model) runs on the host: weights drawn there from the seeded host generator.
  const auto host = torch::TensorOptions().dtype(torch::kFloat32).device(hostDevice());
  for (const auto& [name, shape] : Checkpoint::expectedTensors(c)) {
    torch::Tensor t;
    if (name.find("norm") != std::string::npos) t = torch::ones(shape, host);
    else if (name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos)
      t = torch::randn(shape, host) * residualStd;
    else t = torch::randn(shape, host) * 0.02;
    w[name] = t.set_requires_grad(true);
  }
  return w;
}

struct Batch {
  torch::Tensor ids;      // [B,T]
  torch::Tensor targets;  // [B,T]
  torch::Tensor weights;  // [B,T]
  double tokens = 0;
};

// Row r of micro-batch `index`: documents index * rows * kSlots + r * kSlots + j, j = 0.., while they fit.
Batch makeBatch(const TrainingTextStream& stream, const PretrainRecipe& rc, int64_t index) {
  constexpr int64_t kSlots = 8;
  const int64_t B = rc.batchRows, T = rc.context;
  std::vector<int64_t> ids(size_t(B * (T + 1)), kBytePad);
  std::vector<float> wts(size_t(B * (T + 1)), 0.0f);
  double tokens = 0;
  for (int64_t r = 0; r < B; ++r) {
    int64_t fill = 0;
    for (int64_t j = 0; j < kSlots; ++j) {
      const auto ex = stream.example(uint64_t((index * B + r) * kSlots + j));
      const int64_t len = 1 + int64_t(ex.prompt.size() + ex.completion.size());
      if (fill + len > T + 1) break;
      int64_t* row = &ids[size_t(r * (T + 1))];
      float* wr = &wts[size_t(r * (T + 1))];
      row[fill] = kByteBos;
      int64_t p = fill + 1;
      for (unsigned char ch : ex.prompt) wr[p] = float(rc.promptLossWeight), row[p++] = ch;
      for (unsigned char ch : ex.completion) wr[p] = 1.0f, row[p++] = ch;
      fill = p;
    }
    tokens += double(fill);
  }
  const auto host = torch::TensorOptions().device(hostDevice());
  auto all = torch::tensor(ids, host.dtype(torch::kInt64)).view({B, T + 1});
  auto w = torch::tensor(wts, host.dtype(torch::kFloat32)).view({B, T + 1});
  // Predict token t+1 from tokens <= t; the weight belongs to the predicted token.
  return {all.narrow(1, 0, T), all.narrow(1, 1, T), w.narrow(1, 1, T), tokens};
}

nlohmann::json mixJson(const TrainingMix& mix) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [family, w] : mix.weights) j[std::string(familyInfo(family).name)] = w;
  return j;
}

}  // namespace

nlohmann::json pretrain(const fs::path& out, const PretrainOptions& opt, const std::function<void(const StepReport&)>& onStep,
                        const JobControl* job) {
  PretrainRecipe rc = pretrainRecipe(opt.recipe);
  if (opt.steps > 0) rc.steps = opt.steps;
  if (opt.batchRows > 0) rc.batchRows = opt.batchRows;
  if (opt.lr > 0) rc.lr = opt.lr;
  const ModelConfig& c = rc.config;
  auto weights = initWeights(c, opt.seed);
  auto model = LlamaModel::fromTensors(c, weights, torch::kFloat32);  // shares the trainable tensors

  ParamGroup decay{"matrices", {}, rc.lr, rc.weightDecay, {}}, noDecay{"norms", {}, rc.lr, 0.0, {}};
  for (auto& [name, t] : weights) (t.dim() >= 2 ? decay : noDecay).params.push_back({name, t});
  TrainerOptions to;
  to.steps = rc.steps;
  to.warmupSteps = rc.warmup;
  to.beta2 = 0.95;
  to.clipNorm = 1.0;
  to.seed = opt.seed;
  to.checkpointEvery = opt.checkpointEvery;
  to.checkpointDir = out.parent_path() / (out.filename().string() + ".checkpoints");
  Trainer trainer({decay, noDecay}, to);

  const TrainingTextStream stream(opt.seed, TextSplit::Train, rc.mix);
  const TrainingTextStream heldout(opt.seed, TextSplit::Heldout, rc.mix);
  auto lossFn = [&](int64_t step, int micro) -> std::pair<torch::Tensor, double> {
    Batch b = makeBatch(stream, rc, step);
    auto logits = model->forward({b.ids, {}, {}}).logits;  // [B,T,V]
    auto nll = torch::nn::functional::cross_entropy(
        logits.reshape({-1, c.vocabSize}), b.targets.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto w = b.weights.reshape({-1});
    return {(nll * w).sum() / w.sum(), b.tokens};
  };
  const auto t0 = std::chrono::steady_clock::now();
  TrainResult res = trainer.run(lossFn, onStep, job, opt.resume);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Held-out loss (completion tokens only) on 8 fixed batches.
  double heldoutLoss = 0;
  {
    torch::NoGradGuard ng;
    PretrainRecipe hr = rc;
    hr.promptLossWeight = 0;
    for (int i = 0; i < 8; ++i) {
      Batch b = makeBatch(heldout, hr, i);
      auto logits = model->forward({b.ids, {}, {}}).logits;
      auto nll = torch::nn::functional::cross_entropy(
          logits.reshape({-1, c.vocabSize}), b.targets.reshape({-1}),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      auto w = b.weights.reshape({-1});
      heldoutLoss += ((nll * w).sum() / w.sum()).item<double>() / 8;
    }
  }

  nlohmann::json log = {{"format", "layerscope.pretrain-log/1"},
                        {"layerscope_version", kVersion},
                        {"recipe", opt.recipe},
                        {"seed", opt.seed},
                        {"steps", rc.steps},
                        {"batch_rows", rc.batchRows},
                        {"context", rc.context},
                        {"lr", rc.lr},
                        {"warmup", rc.warmup},
                        {"weight_decay", rc.weightDecay},
                        {"prompt_loss_weight", rc.promptLossWeight},
                        {"mix", mixJson(rc.mix)},
                        {"parameters", c.parameterCount()},
                        {"task_suite_version", kTaskSuiteVersion},
                        {"resumed_from_step", res.resumedFromStep},
                        {"train_seconds_this_run", seconds},
                        {"losses", res.losses},
                        {"heldout_completion_loss", heldoutLoss},
                        {"finished_utc", utcNow()}};
  // The model directory is built in a staging folder of its own and swapped into place complete
  // (docs/hardening.md): `out` holds the previous model or the new one, never a mix, and two runs never share a
  // temporary folder. Replacing `out` is pretrain's purpose (regenerating the demo model in place).
  writeDirectoryAtomically(out, /*overwrite=*/true, [&](const fs::path& tmp) {
    ModelConfig saved = c;
    saved.torchDtype = "float32";
    writeFileAtomically(tmp / "config.json", toHfJson(saved).dump(2));
    writeSafetensors(tmp / "model.safetensors", model->namedWeights(),
                     {{"format", "pt"}, {"generator", std::string("layerscope pretrain --recipe ") + opt.recipe}});
    writeByteLevelTokenizer(tmp);
    writeFileAtomically(tmp / "training_log.json", log.dump(1));
  });
  return log;
}

}  // namespace layerscope::core
