// LS-LoRA / GARFA adapters: identity at initialisation, PEFT file layout, validation, frozen base, merge
// equivalence, exact resume, data order; benchmark loaders and answer extraction.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <fstream>
#include <memory>
#include <set>

#include "core/train/adapter_training.h"
#include "core/train/adapters.h"
#include "core/data/benchmarks.h"
#include "core/text/byte_tokenizer.h"
#include "core/base/error.h"
#include "core/model/random_checkpoint.h"
#include "core/model/safetensors.h"
#include "core/data/task_suite.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

class Adapters : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tiny_ = new test::TinyByteModel(test::byteConfig({.heads = 4, .headDim = 8, .maxPositions = 128, .byteSpecialIds = true}), {.seed = 7, .weightStd = 0.2});
    model_ = tiny_->load(torch::kFloat32);
    tok_ = &tiny_->tokenizer();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete tiny_;
  }
  static ForwardInput input() {
    torch::manual_seed(3);
    return {torch::randint(0, 256, {2, 9}, torch::kInt64), {}, {}};
  }
  static AdapterSpec spec(std::vector<int> lora = {0, 2}, std::vector<int> garfa = {1, 2}) {
    AdapterSpec s;
    s.lora.layers = std::move(lora);
    s.lora.rank = 4;
    s.lora.alpha = 8;
    s.garfa.layers = std::move(garfa);
    return s;
  }
  // A short-answer task: "n: <digits> A:" -> " <first digit>".
  static Task digitTask(int n) {
    std::vector<ShortItem> items;
    for (int i = 0; i < n; ++i) {
      const std::string d = std::to_string(10 + (i * 37) % 90);
      items.push_back({"d" + std::to_string(i), "n: " + d + " A:", std::string(" ") + d[0]});
    }
    Task t;
    t.name = "digits";
    t.items = items;
    return t;
  }
  // Gives every adapter parameter a non-zero random value (B and beta are zero at initialisation).
  static void randomise(AdapterSet& a, double scale) {
    torch::NoGradGuard ng;
    torch::manual_seed(11);
    for (auto& p : a.loraParameters()) p.value.copy_(torch::randn(p.value.sizes()) * scale);
    for (auto& p : a.garfaParameters()) p.value.copy_(torch::randn(p.value.sizes()) * 0.3);
  }
  static inline test::TinyByteModel* tiny_ = nullptr;
  static inline std::shared_ptr<const LlamaModel> model_;
  static inline const Tokenizer* tok_ = nullptr;
};

}  // namespace

TEST_F(Adapters, FreshAdaptersLeaveLogitsUnchanged) {
  auto a = AdapterSet::create(model_->config(), spec(), 1);
  c10::InferenceMode guard;
  auto in = input();
  auto base = model_->forward(in).logits;
  auto iv = a.interventions();
  EXPECT_TRUE(torch::equal(base, model_->forward(in, &iv).logits)) << "B = 0 and beta = 0 must be the identity";
  randomise(a, 0.2);
  auto iv2 = a.interventions();
  EXPECT_FALSE(torch::allclose(base, model_->forward(in, &iv2).logits, 1e-4, 1e-4));
}

TEST_F(Adapters, EachRequestedLayerGetsItsAdapterAndNothingElse) {
  AdapterSpec s = spec({1}, {0, 2});
  s.lora.targets = {Proj::Q, Proj::Down};
  auto a = AdapterSet::create(model_->config(), s, 1);
  for (int l = 0; l < 3; ++l)
    for (Proj p : kAllProj) EXPECT_EQ(a.slot(l, p).active(), l == 1 && (p == Proj::Q || p == Proj::Down)) << l;
  EXPECT_TRUE(a.beta(0).defined());
  EXPECT_FALSE(a.beta(1).defined());
  EXPECT_TRUE(a.beta(2).defined());
  // r (in + out) per slot: q [32 <- 32], down [32 <- 64]; GARFA G per layer.
  EXPECT_EQ(a.loraParameterCount(), 4 * (32 + 32) + 4 * (64 + 32));
  EXPECT_EQ(a.garfaParameterCount(), 2 * 2);
  // A is Kaiming-uniform with bound 1/sqrt(in).
  EXPECT_LE(a.slot(1, Proj::Down).A.abs().max().item<double>(), 1.0 / 8.0);
  EXPECT_GT(a.slot(1, Proj::Down).A.abs().max().item<double>(), 0.5 / 8.0);
  EXPECT_TRUE(torch::equal(a.slot(1, Proj::Q).B, torch::zeros({32, 4})));
}

TEST_F(Adapters, InvalidLayersAndTargetsAreErrors) {
  EXPECT_THROW(AdapterSet::create(model_->config(), spec({0, 3}, {}), 1), InvalidArgument);
  EXPECT_THROW(AdapterSet::create(model_->config(), spec({}, {5}), 1), InvalidArgument);
  EXPECT_THROW(AdapterSet::create(model_->config(), spec({1, 1}, {}), 1), InvalidArgument);
  try {
    AdapterSet::create(model_->config(), spec({7}, {}), 1);
    ADD_FAILURE();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 7 is out of range 0..2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parseTargets("q,qq"), InvalidArgument);
  EXPECT_THROW(parseTargets(""), InvalidArgument);
  EXPECT_EQ(parseTargets("q_proj,down"), (std::vector<Proj>{Proj::Q, Proj::Down}));
  EXPECT_EQ(parseLayerList("23-25,2", "--lora-layers"), (std::vector<int>{23, 24, 25, 2}));
  EXPECT_TRUE(parseLayerList("none", "--lora-layers").empty());
  EXPECT_THROW(parseLayerList("5-3", "--lora-layers"), InvalidArgument);
  EXPECT_THROW(parseLayerList("1,x", "--lora-layers"), InvalidArgument);
  EXPECT_THROW(parseLayerList("1,1", "--lora-layers"), InvalidArgument);
  EXPECT_EQ(formatLayerList({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}

TEST_F(Adapters, PeftFilesHaveHfKeysShapesAndRoundTrip) {
  auto a = AdapterSet::create(model_->config(), spec(), 1);
  randomise(a, 0.1);
  test::TempDir out;
  a.save(out.path());
  auto f = SafetensorsFile::open(out / "adapter_model.safetensors");
  EXPECT_EQ(f->entries().size(), size_t(2 * 7 * 2));  // 2 layers x 7 targets x {A, B}
  auto shape = [&](const std::string& k) { return f->tensor(k).sizes().vec(); };
  EXPECT_EQ(shape("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), (std::vector<int64_t>{4, 32}));
  EXPECT_EQ(shape("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"), (std::vector<int64_t>{32, 4}));
  EXPECT_EQ(shape("base_model.model.model.layers.2.self_attn.k_proj.lora_B.weight"), (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(shape("base_model.model.model.layers.2.mlp.down_proj.lora_A.weight"), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(shape("base_model.model.model.layers.2.mlp.gate_proj.lora_B.weight"), (std::vector<int64_t>{64, 4}));
  EXPECT_EQ(f->entry("base_model.model.model.layers.0.mlp.up_proj.lora_A.weight").dtype, StDtype::F32);
  std::ifstream in(out / "adapter_config.json");
  auto cfg = nlohmann::json::parse(in);
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["task_type"], "CAUSAL_LM");
  EXPECT_EQ(cfg["r"], 4);
  EXPECT_EQ(cfg["lora_alpha"], 8.0);
  EXPECT_EQ(cfg["lora_dropout"], 0.05);
  EXPECT_EQ(cfg["layers_to_transform"], nlohmann::json({0, 2}));
  EXPECT_EQ(cfg["layers_pattern"], "layers");
  EXPECT_EQ(cfg["target_modules"], nlohmann::json({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));
  auto g = SafetensorsFile::open(out / "garfa.safetensors");
  EXPECT_EQ(g->entries().size(), 2u);
  EXPECT_EQ(g->tensor("layers.1.beta").sizes().vec(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(std::filesystem::exists(out / "garfa_config.json"));

  auto b = AdapterSet::load(out.path(), model_->config());
  for (int l : {0, 2})
    for (Proj p : kAllProj) {
      EXPECT_TRUE(torch::equal(a.slot(l, p).A, b.slot(l, p).A));
      EXPECT_TRUE(torch::equal(a.slot(l, p).B, b.slot(l, p).B));
      EXPECT_DOUBLE_EQ(b.slot(l, p).scale, 2.0);
    }
  for (int l : {1, 2}) EXPECT_TRUE(torch::equal(a.beta(l), b.beta(l)));
  // PEFT writes layers_to_transform = null for "every layer": a full-model LoRA loads with all layers.
  {
    test::TempDir full;
    AdapterSpec all = spec({0, 1, 2}, {});
    AdapterSet::create(model_->config(), all, 1).save(full.path());
    std::ifstream cin(full / "adapter_config.json");
    auto j = nlohmann::json::parse(cin);
    cin.close();
    j["layers_to_transform"] = nullptr;
    std::ofstream(full / "adapter_config.json") << j.dump();
    auto loaded = AdapterSet::load(full.path(), model_->config());
    EXPECT_EQ(loaded.spec().lora.layers, (std::vector<int>{0, 1, 2}));
  }
  // A model with another KV-head count is refused, naming the file.
  ModelConfig other = model_->config();
  other.numKvHeads = 4;
  EXPECT_THROW(AdapterSet::load(out.path(), other), CheckpointError);
  ModelConfig fewer = model_->config();
  fewer.numLayers = 2;
  EXPECT_THROW(AdapterSet::load(out.path(), fewer), CheckpointError);
}

TEST_F(Adapters, TrainingTouchesOnlyAdaptersAndKeepsTheBaseBitwise) {
  std::vector<std::pair<std::string, torch::Tensor>> before;
  for (auto& [n, t] : model_->namedWeights()) before.emplace_back(n, t.clone());
  auto a = AdapterSet::create(model_->config(), spec(), 1);
  AdapterTrainOptions o;
  o.steps = 3, o.batchSize = 4, o.checkpointEvery = 0, o.loraLr = 1e-2, o.garfaLr = 1e-2;
  auto res = trainAdapters(*model_, a, *tok_, digitTask(12), o);
  ASSERT_EQ(res.losses.size(), 3u);
  const auto after = model_->namedWeights();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(before[i].second, after[i].second)) << before[i].first;
    EXPECT_FALSE(after[i].second.requires_grad()) << before[i].first;
    EXPECT_FALSE(after[i].second.grad().defined()) << before[i].first;
  }
  // Every adapter parameter received a gradient and moved.
  for (const auto& p : a.loraParameters()) {
    ASSERT_TRUE(p.value.grad().defined()) << p.name;
    EXPECT_GT(p.value.grad().abs().sum().item<double>(), 0.0) << p.name;
  }
  for (const auto& p : a.garfaParameters()) EXPECT_GT(p.value.abs().sum().item<double>(), 0.0) << p.name;
  EXPECT_GT(a.slot(0, Proj::V).B.abs().sum().item<double>(), 0.0);
}

// The held-out loss curve: points at every evalEvery-th step and the last, on a fixed seeded subset; the last point
// equals the token-weighted mean completion loss of that subset recomputed item by item (one row each, so no
// padding) with the trained adapter without dropout; the trained adapter is bitwise that of a run without it.
TEST_F(Adapters, HeldOutLossIsTheSubsetsCompletionLossAndChangesNothing) {
  const auto subset = heldOutSubset(9, 5, 4);
  ASSERT_EQ(subset.size(), 5u);
  EXPECT_TRUE(std::is_sorted(subset.begin(), subset.end()));
  EXPECT_EQ(std::set<size_t>(subset.begin(), subset.end()).size(), 5u);
  EXPECT_LT(subset.back(), 9u);
  EXPECT_EQ(heldOutSubset(9, 5, 4), subset);
  EXPECT_EQ(heldOutSubset(9, 0, 4).size(), 9u);
  EXPECT_EQ(heldOutSubset(3, 5, 4).size(), 3u);

  AdapterTrainOptions o;
  o.steps = 4, o.batchSize = 4, o.checkpointEvery = 0, o.loraLr = 1e-2, o.garfaLr = 1e-2, o.seed = 4;
  AdapterSpec withDropout = spec();
  withDropout.lora.dropout = 0.1;  // on while training, off for the held-out loss
  auto plain = AdapterSet::create(model_->config(), withDropout, 1);
  trainAdapters(*model_, plain, *tok_, digitTask(12), o);

  Task held = digitTask(9);
  held.name = "held";
  for (auto& it : std::get<std::vector<ShortItem>>(held.items)) it.prompt = "m: " + it.prompt;
  o.evalTask = std::make_shared<const Task>(held);
  o.evalEvery = 3;
  o.evalItems = 5;
  auto a = AdapterSet::create(model_->config(), withDropout, 1);
  const auto res = trainAdapters(*model_, a, *tok_, digitTask(12), o);
  ASSERT_EQ(res.evalLosses.size(), 2u);
  EXPECT_EQ(res.evalLosses[0].step, 3);
  EXPECT_EQ(res.evalLosses[1].step, 4);
  EXPECT_EQ(res.evalItems, 5u);
  ASSERT_TRUE(res.log.contains("eval_loss"));
  EXPECT_EQ(res.log["eval_loss"]["points"].size(), 2u);
  EXPECT_EQ(res.log["eval_loss"]["task"], "held");
  for (size_t g = 0; g < 2; ++g) {
    const auto& pa = g ? a.garfaParameters() : a.loraParameters();
    const auto& pb = g ? plain.garfaParameters() : plain.loraParameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].value, pb[i].value)) << pa[i].name;
  }
  // Independent recomputation of the last point.
  const auto seqs = trainingSequences(*tok_, held, o.completionSuffix);
  torch::NoGradGuard ng;
  const Interventions iv = a.interventions(/*training=*/false);
  double sum = 0, tokens = 0;
  for (size_t i : subset) {
    const double n = double(seqs[i].completion.size());
    sum += completionLoss(*model_, iv, {&seqs[i]}).first.item<double>() * n;
    tokens += n;
  }
  EXPECT_NEAR(res.evalLosses[1].loss, sum / tokens, 1e-5 * sum / tokens);
  EXPECT_GT(res.evalLosses[1].loss, 0.0);
}

TEST_F(Adapters, MergedCheckpointEqualsBasePlusAdapter) {
  auto a = AdapterSet::create(model_->config(), spec(), 2);
  randomise(a, 0.2);
  test::TempDir work;
  a.save(work / "adapter");
  mergeAdapter(tiny_->dir(), work / "adapter", work / "merged");
  EXPECT_TRUE(std::filesystem::exists(work / "merged" / "garfa.safetensors"));  // GARFA stays a sidecar
  EXPECT_TRUE(std::filesystem::exists(work / "merged" / "tokenizer.json"));
  EXPECT_FALSE(std::filesystem::exists(work / "merged" / "adapter_model.safetensors"));
  auto merged = loadModelWithAdapter(work / "merged", work / "merged", torch::kFloat32);
  ASSERT_TRUE(merged.adapter);
  EXPECT_FALSE(merged.adapter->hasLora());
  c10::InferenceMode guard;
  auto in = input();
  auto iv = a.interventions();
  auto expected = model_->forward(in, &iv).logits;
  auto mv = merged.interventions();
  auto got = merged.model->forward(in, &mv).logits;
  EXPECT_TRUE(torch::allclose(expected, got, 1e-5, 1e-5)) << (expected - got).abs().max().item<double>();
  EXPECT_FALSE(torch::allclose(expected, model_->forward(in).logits, 1e-3, 1e-3));
}

// merge never destroys what the user has: an existing --out needs --overwrite, the base or adapter folder is never
// a valid --out, and a replaced output is swapped in complete with no staging folder left behind.
TEST_F(Adapters, MergeRefusesToOverwriteAndNeverReplacesItsInputs) {
  namespace fs = std::filesystem;
  auto a = AdapterSet::create(model_->config(), spec(), 2);
  randomise(a, 0.2);
  test::TempDir work;
  a.save(work / "adapter");
  fs::create_directories(work / "merged");
  std::ofstream(work / "merged" / "keep.txt") << "user data";
  auto messageOf = [&](const fs::path& out, bool overwrite) {
    try {
      mergeAdapter(tiny_->dir(), work / "adapter", out, hostDevice(), overwrite);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(messageOf(work / "merged", false).find("already exists (pass --overwrite"), std::string::npos);
  EXPECT_TRUE(fs::exists(work / "merged" / "keep.txt"));
  EXPECT_NE(messageOf(work / "adapter", true).find("is the adapter folder"), std::string::npos);
  EXPECT_NE(messageOf(tiny_->dir(), true).find("is the base model folder"), std::string::npos);
  EXPECT_TRUE(fs::exists(work / "adapter" / "adapter_config.json"));
  EXPECT_EQ(messageOf(work / "merged/", true), "");  // a trailing separator names the same folder
  EXPECT_FALSE(fs::exists(work / "merged" / "keep.txt"));
  EXPECT_TRUE(fs::exists(work / "merged" / "model.safetensors"));
  for (const auto& e : fs::directory_iterator(work.path()))
    EXPECT_EQ(e.path().filename().string().find(".incomplete-"), std::string::npos) << e.path();
}

TEST_F(Adapters, ResumeReproducesTheUninterruptedLossSequence) {
  AdapterTrainOptions o;
  o.steps = 6, o.batchSize = 3, o.gradAccum = 2, o.checkpointEvery = 2, o.loraLr = 5e-3, o.seed = 9;
  o.warmupSteps = 2;
  const Task task = digitTask(10);
  test::TempDir work;
  auto full = AdapterSet::create(model_->config(), spec(), 9);
  auto ref = trainAdapters(*model_, full, *tok_, task, o, work / "full");

  std::stop_source stop;
  JobControl job(stop.get_token());
  auto first = AdapterSet::create(model_->config(), spec(), 9);
  EXPECT_THROW(trainAdapters(*model_, first, *tok_, task, o, work / "cut", false,
                             [&](const StepReport& r) {
                               if (r.step == 3) stop.request_stop();  // killed after step 3: newest checkpoint is step 2
                             },
                             &job),
               Cancelled);
  EXPECT_FALSE(std::filesystem::exists(work / "cut" / "training_log.json"));
  // Without --resume an existing run is not silently overwritten.
  auto again = AdapterSet::create(model_->config(), spec(), 9);
  EXPECT_THROW(trainAdapters(*model_, again, *tok_, task, o, work / "cut"), InvalidArgument);
  // Resuming with other options is refused.
  AdapterTrainOptions other = o;
  other.loraLr = 1e-3;
  EXPECT_THROW(trainAdapters(*model_, again, *tok_, task, other, work / "cut", true), InvalidArgument);

  auto second = AdapterSet::create(model_->config(), spec(), 9);
  auto res = trainAdapters(*model_, second, *tok_, task, o, work / "cut", true);
  EXPECT_EQ(res.resumedFromStep, 2);
  ASSERT_EQ(res.losses.size(), ref.losses.size());
  for (size_t i = 0; i < ref.losses.size(); ++i) EXPECT_EQ(res.losses[i], ref.losses[i]) << "step " << i + 1;
  for (int l : {0, 2})
    for (Proj p : kAllProj) EXPECT_TRUE(torch::equal(full.slot(l, p).B, second.slot(l, p).B));
  for (int l : {1, 2}) EXPECT_TRUE(torch::equal(full.beta(l), second.beta(l)));
  EXPECT_TRUE(std::filesystem::exists(work / "cut" / "training_log.json"));
  EXPECT_TRUE(std::filesystem::exists(work / "cut" / "adapter_model.safetensors"));
}

TEST_F(Adapters, Bfloat16BaseTrainsFloat32Adapters) {
  auto bf16 = tiny_->load(torch::kBFloat16);
  auto a = AdapterSet::create(bf16->config(), spec(), 1);
  AdapterTrainOptions o;
  o.steps = 2, o.batchSize = 4, o.checkpointEvery = 0, o.loraLr = 1e-2;
  auto res = trainAdapters(*bf16, a, *tok_, digitTask(8), o);
  EXPECT_TRUE(std::isfinite(res.losses.back()));
  EXPECT_EQ(a.slot(0, Proj::Q).B.scalar_type(), torch::kFloat32);
  EXPECT_GT(a.slot(0, Proj::Q).B.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(bf16->weight(0, Proj::Q).scalar_type(), torch::kBFloat16);
}

TEST_F(Adapters, EvaluationAppliesTheAdapterLoadedFromItsDirectory) {
  auto a = AdapterSet::create(model_->config(), spec(), 3);
  const auto prepared = prepareTask(*tok_, digitTask(6));
  ScoringOptions so;
  so.maxNewTokens = 3;
  const auto base = evaluateWithAdapter(*model_, nullptr, *tok_, prepared, so);
  const auto fresh = evaluateWithAdapter(*model_, &a, *tok_, prepared, so);
  for (size_t i = 0; i < base.items.size(); ++i) EXPECT_EQ(base.items[i].generated, fresh.items[i].generated);
  randomise(a, 0.5);
  test::TempDir d;
  a.save(d.path());
  auto loaded = loadModelWithAdapter(tiny_->dir(), d.path(), torch::kFloat32);
  const auto inMemory = evaluateWithAdapter(*model_, &a, *tok_, prepared, so);
  const auto fromDir = evaluateWithAdapter(*loaded.model, loaded.adapter.get(), *tok_, prepared, so);
  bool anyDiffers = false;
  for (size_t i = 0; i < base.items.size(); ++i) {
    EXPECT_EQ(inMemory.items[i].generated, fromDir.items[i].generated);
    anyDiffers = anyDiffers || inMemory.items[i].generated != base.items[i].generated;
  }
  EXPECT_TRUE(anyDiffers) << "a random adapter should change some greedy answer";
  EXPECT_NE(bosPolicy(*tok_).find("id 256"), std::string::npos) << bosPolicy(*tok_);
}

TEST_F(Adapters, GarfaClampKeepsAlphaInRange) {
  AdapterSpec s = spec({}, {0, 1, 2});
  s.garfa.clamp = true;
  auto a = AdapterSet::create(model_->config(), s, 1);
  AdapterTrainOptions o;
  o.steps = 5, o.batchSize = 4, o.garfaLr = 2.0, o.warmupSteps = 0, o.checkpointEvery = 0;
  trainAdapters(*model_, a, *tok_, digitTask(8), o);
  for (int l : {0, 1, 2}) {
    auto alpha = torch::exp(a.beta(l));
    EXPECT_GE(alpha.min().item<double>(), 0.25 - 1e-6);
    EXPECT_LE(alpha.max().item<double>(), 4.0 + 1e-6);
  }
  EXPECT_GT(a.beta(0).abs().max().item<double>(), 1.0);  // lr 2 moves beta far: the clamp was exercised
}

TEST(AdapterData, BatchOrderIsASeededPermutationPerEpoch) {
  std::vector<size_t> seen;
  for (int64_t step = 0; step < 5; ++step)
    for (size_t i : batchIndices(4, 10, step, 0, 2, 1)) seen.push_back(i);
  std::vector<size_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);  // one epoch = every example once
  EXPECT_EQ(batchIndices(4, 10, 3, 1, 2, 2), batchIndices(4, 10, 3, 1, 2, 2));
  EXPECT_NE(batchIndices(4, 10, 0, 0, 10, 1), batchIndices(5, 10, 0, 0, 10, 1));
}

TEST(AdapterData, DemoTrainingSetComesFromTheTrainSplit) {
  EXPECT_FALSE(demoTrainingTask("data/train.jsonl", 0).has_value());
  auto t = demoTrainingTask("demo:kv_recall:20", 1);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->shortAnswer().size(), 20u);
  for (const auto& it : t->shortAnswer()) {
    EXPECT_EQ(promptSplit(it.prompt), PromptSplit::Train) << it.prompt;
    EXPECT_EQ(it.prompt.rfind("recall:", 0), 0u) << it.prompt;
    EXPECT_NE(it.target.back(), '\n');
  }
  EXPECT_EQ(demoTrainingTask("demo:50", 1)->size(), 50u);
  EXPECT_THROW(demoTrainingTask("demo:nosuch:5", 1), InvalidArgument);
  EXPECT_THROW(demoTrainingTask("demo:0", 1), InvalidArgument);
}

TEST(AnswerExtraction, NumbersAndBoxed) {
  EXPECT_EQ(lastNumber("so 3 apples and 1,234.50 pears."), "1234.50");
  EXPECT_EQ(lastNumber("it is -7."), "-7");
  EXPECT_EQ(lastNumber("no digits"), "");
  EXPECT_EQ(lastBoxed("x \\boxed{1} then \\boxed{\\frac{1}{2}} end"), "\\frac{1}{2}");
  EXPECT_EQ(lastBoxed("\\boxed{unbalanced"), "");
  EXPECT_EQ(extractAnswer("The answer is 42.\n", AnswerExtraction::LastNumber), "42");
  EXPECT_EQ(extractAnswer("so \\boxed{ X + 1 }", AnswerExtraction::Boxed), "x + 1");
  EXPECT_EQ(extractAnswer("  Paris  ", AnswerExtraction::None), "paris");
}

namespace {
BenchmarkOptions opts(BenchmarkFormat f, uint64_t seed = 1234, std::filesystem::path fewshot = {}, int k = 0) {
  BenchmarkOptions o;
  o.format = f, o.seed = seed, o.fewshotFile = std::move(fewshot), o.numFewshot = k;
  return o;
}
std::filesystem::path writeLines(const test::TempDir& d, const std::string& name, const std::vector<std::string>& lines) {
  std::ofstream out(d / name);
  for (const auto& l : lines) out << l << "\n";
  return d / name;
}
}  // namespace

TEST(Benchmarks, LoadersFollowTheHarnessTemplates) {
  test::TempDir d;
  auto mmlu = writeLines(d, "mmlu.jsonl", {R"({"question": "2+2?", "choices": ["3", "4", "5", "6"], "answer": 1})",
                                           R"({"question": "Sky?", "choices": ["blue", "red"], "answer": "A"})"});
  EXPECT_EQ(detectBenchmarkFormat(mmlu), BenchmarkFormat::Mmlu);
  auto t = loadBenchmark(mmlu, opts(BenchmarkFormat::Mmlu));
  ASSERT_EQ(t.mc().size(), 2u);
  EXPECT_EQ(t.mc()[0].prompt, "2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:");
  EXPECT_EQ(t.mc()[0].choices, (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(t.mc()[0].answer, 1u);
  EXPECT_EQ(t.mc()[1].answer, 0u);

  auto arc = writeLines(d, "arc.jsonl", {R"({"id": "q1", "question": "Hot?", "choices": {"text": ["sun", "ice"], "label": ["A", "B"]}, "answerKey": "A"})",
                                         R"({"id": "q2", "question": "Cold?", "choices": {"text": ["sun", "ice"], "label": ["1", "2"]}, "answerKey": "2"})"});
  EXPECT_EQ(detectBenchmarkFormat(arc), BenchmarkFormat::Arc);
  t = loadBenchmark(arc, opts(BenchmarkFormat::Arc));
  EXPECT_EQ(t.mc()[0].prompt, "Question: Hot?\nAnswer:");
  EXPECT_EQ(t.mc()[0].choices, (std::vector<std::string>{" sun", " ice"}));
  EXPECT_EQ(t.mc()[1].answer, 1u);
  EXPECT_EQ(t.mc()[1].id, "q2");

  auto gpqa = writeLines(d, "gpqa.jsonl", {R"({"Question": "Q?", "Correct Answer": "right", "Incorrect Answer 1": "w1", "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"})"});
  EXPECT_EQ(detectBenchmarkFormat(gpqa), BenchmarkFormat::Gpqa);
  auto g1 = loadBenchmark(gpqa, opts(BenchmarkFormat::Gpqa, 1));
  auto g1again = loadBenchmark(gpqa, opts(BenchmarkFormat::Gpqa, 1));
  EXPECT_EQ(g1.mc()[0], g1again.mc()[0]);
  const auto& it = g1.mc()[0];
  const std::string goldLine = "(" + std::string(1, char('A' + it.answer)) + ") right\n";
  EXPECT_NE(it.prompt.find(goldLine), std::string::npos) << it.prompt;
  // Over several seeds the correct answer lands in more than one position.
  std::set<size_t> positions;
  for (uint64_t s = 0; s < 12; ++s) positions.insert(loadBenchmark(gpqa, opts(BenchmarkFormat::Gpqa, s)).mc()[0].answer);
  EXPECT_GT(positions.size(), 1u);

  auto mgsm = writeLines(d, "mgsm.jsonl", {R"({"question": "3 apples + 4?", "answer_number": 7})",
                                           R"({"question": "Ten minus two?", "answer": "Ten minus two is 8. The answer is 8."})"});
  EXPECT_EQ(detectBenchmarkFormat(mgsm), BenchmarkFormat::Mgsm);
  t = loadBenchmark(mgsm, opts(BenchmarkFormat::Mgsm));
  EXPECT_EQ(t.shortAnswer()[0].prompt, "Question: 3 apples + 4?\nAnswer:");
  EXPECT_EQ(t.shortAnswer()[0].target, " 7");
  EXPECT_EQ(t.shortAnswer()[1].target, " 8");

  auto math = writeLines(d, "math.jsonl", {R"({"problem": "Half of 1?", "solution": "It is $\\boxed{\\frac{1}{2}}$."})"});
  EXPECT_EQ(detectBenchmarkFormat(math), BenchmarkFormat::Math);
  t = loadBenchmark(math, opts(BenchmarkFormat::Math));
  EXPECT_EQ(t.shortAnswer()[0].target, " \\frac{1}{2}");
  EXPECT_EQ(defaultExtractionName(BenchmarkFormat::Math), "boxed");

  // Few-shot: the first k items of the given file, answered, before every prompt.
  t = loadBenchmark(mgsm, opts(BenchmarkFormat::Mgsm, 1234, mgsm, 1));
  EXPECT_EQ(t.shortAnswer()[1].prompt, "Question: 3 apples + 4?\nAnswer: 7\n\nQuestion: Ten minus two?\nAnswer:");
  EXPECT_THROW(loadBenchmark(mgsm, opts(BenchmarkFormat::Mgsm, 1234, math, 3)), DatasetError);

  auto bad = writeLines(d, "bad.jsonl", {R"({"question": "x", "choices": ["a", "b"], "answer": "C"})"});
  try {
    loadBenchmark(bad, opts(BenchmarkFormat::Mmlu));
    ADD_FAILURE();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1: answer 'C' names no choice"), std::string::npos) << e.what();
  }
}

// A baked adapter (LoRA folded into the weights, GARFA as fixed RoPE multipliers) is the same model as the base
// run with the adapter's interventions, so the layer analyses can run on it unchanged.
TEST_F(Adapters, BakedAdapterEqualsBaseWithAdapterInterventions) {
  auto adapter = AdapterSet::create(model_->config(), spec(), 11);
  {
    torch::NoGradGuard ng;
    torch::manual_seed(5);
    for (auto& p : adapter.loraParameters()) p.value.copy_(torch::randn_like(p.value) * 0.2);
    for (auto& p : adapter.garfaParameters()) p.value.copy_(torch::randn_like(p.value) * 0.5);
  }
  c10::InferenceMode guard;
  auto in = input();
  const auto iv = adapter.interventions();
  auto viaInterventions = model_->forward(in, &iv).logits;
  auto baked = bakeAdapter(*model_, adapter);
  auto viaBaked = baked->forward(in).logits;
  EXPECT_TRUE(torch::allclose(viaBaked, viaInterventions, 1e-5, 1e-5))
      << (viaBaked - viaInterventions).abs().max().item<double>();
  EXPECT_FALSE(torch::allclose(viaBaked, model_->forward(in).logits, 1e-3, 1e-3));
  // Intervention multipliers compose with the baked ones: baked alpha a, intervention b == plain model with a*b.
  Interventions extra;
  extra.ropeAlpha.assign(3, torch::tensor({1.3f, 0.7f}));
  Interventions combined = iv;
  for (int l = 0; l < 3; ++l)
    combined.ropeAlpha[size_t(l)] =
        iv.ropeAlpha[size_t(l)].defined() ? iv.ropeAlpha[size_t(l)] * extra.ropeAlpha[size_t(l)] : extra.ropeAlpha[size_t(l)];
  EXPECT_TRUE(torch::allclose(baked->forward(in, &extra).logits, model_->forward(in, &combined).logits, 1e-5, 1e-5));
}
