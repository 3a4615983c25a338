// Forward-pass parity against the independent float64 numpy reference, padding invariance, captures and
// cancellation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "core/base/error.h"
#include "core/model/model.h"
#include "core/model/npy.h"
#include "core/model/random_checkpoint.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;

namespace {

struct ParityCase {
  std::string name;
  ModelConfig config;
  StDtype stored;
  int shards;
};

ModelConfig base(int D, int H, int G, int layers, int vocab) {
  ModelConfig c;
  c.hiddenSize = D, c.intermediateSize = 2 * D + 8, c.numLayers = layers, c.numHeads = H, c.numKvHeads = G;
  c.headDim = D / H, c.vocabSize = vocab, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = 256;
  return c;
}

std::vector<ParityCase> parityCases() {
  std::vector<ParityCase> out;
  {  // 4:1 GQA with llama3 scaling (kept, blended and divided bands all present at head_dim 8), sharded bf16
    ModelConfig c = base(64, 8, 2, 3, 300);
    c.ropeTheta = 500000;
    c.ropeScaling = {RopeScaling::Kind::Llama3, 8.0, 1.0, 4.0, 8192};
    out.push_back({"gqa4_llama3_sharded_bf16", c, StDtype::BF16, 3});
  }
  {  // tied embeddings with a head_dim override (H * Dh != D)
    ModelConfig c = base(48, 4, 2, 2, 200);
    c.headDim = 16;
    c.tieWordEmbeddings = true;
    out.push_back({"tied_head_dim_override", c, StDtype::F32, 1});
  }
  {  // Qwen2-style q/k/v biases
    ModelConfig c = base(32, 4, 2, 2, 150);
    c.modelType = "qwen2";
    c.qkvBias = true;
    out.push_back({"qwen2_biases", c, StDtype::F32, 1});
  }
  {  // plain multi-head attention, linear scaling, f16 storage
    ModelConfig c = base(32, 4, 4, 2, 150);
    c.ropeScaling = {RopeScaling::Kind::Linear, 2.0, 1.0, 4.0, 8192};
    out.push_back({"mha_linear_f16", c, StDtype::F16, 1});
  }
  return out;
}

std::vector<int64_t> someIds(int n, int vocab, uint64_t seed) {
  std::vector<int64_t> ids;
  uint64_t x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    ids.push_back(int64_t((x >> 33) % uint64_t(vocab)));
  }
  return ids;
}

torch::Tensor referenceLogits(const std::filesystem::path& dir, const std::vector<int64_t>& ids) {
  std::ostringstream cmd, list;
  for (size_t i = 0; i < ids.size(); ++i) list << (i ? "," : "") << ids[i];
  const auto out = dir / "reference.npy";
  cmd << LAYERSCOPE_PYTHON3 << " " << LAYERSCOPE_SOURCE_DIR << "/tests/reference/llama_reference.py " << dir << " --ids "
      << list.str() << " --out " << out;
  const int rc = std::system(cmd.str().c_str());
  if (rc != 0) throw std::runtime_error("reference failed (needs python3-numpy): " + cmd.str());
  return readNpy(out);
}

double relError(const torch::Tensor& got, const torch::Tensor& ref) {
  auto r = ref.to(torch::kFloat64);
  return ((got.to(torch::kFloat64) - r).abs().max() / r.abs().max()).item<double>();
}

}  // namespace

class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, LogitsMatchFloat64Reference) {
  const ParityCase& pc = GetParam();
  test::TempDir dir;
  writeRandomCheckpoint(dir.path(), pc.config, {.seed = 11, .storedDtype = pc.stored, .shards = pc.shards, .weightStd = 0.15});
  const auto ids = someIds(17, pc.config.vocabSize, 3);
  const torch::Tensor ref = referenceLogits(dir.path(), ids);  // [T,V] float64
  ForwardInput in;
  in.inputIds = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  c10::InferenceMode guard;
  auto f32 = LlamaModel::load(dir.path(), torch::kFloat32)->forward(in).logits.squeeze(0);
  ASSERT_EQ(f32.sizes(), ref.sizes());
  const double e32 = relError(f32, ref);
  EXPECT_LT(e32, 1e-4) << pc.name << ": float32 relative error " << e32;
  auto bf16 = LlamaModel::load(dir.path(), torch::kBFloat16)->forward(in).logits.squeeze(0);
  const double e16 = relError(bf16, ref);
  // bf16 keeps 8 significant bits (relative rounding 2^-9 per op); a few layers of it stay within a few percent.
  EXPECT_LT(e16, 5e-2) << pc.name << ": bfloat16 relative error " << e16;
  EXPECT_GT(e16, e32) << "bf16 compute should actually run in bf16";
  std::cout << "[parity] " << pc.name << ": float32 rel err " << e32 << ", bfloat16 rel err " << e16 << "\n";
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, Parity, ::testing::ValuesIn(parityCases()),
                         [](const auto& p) { return p.param.name; });

class SmallModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    ModelConfig c = base(32, 4, 2, 3, 100);
    writeRandomCheckpoint(dir_->path(), c, {.seed = 5, .weightStd = 0.2});
    model_ = LlamaModel::load(dir_->path(), torch::kFloat32);
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete dir_;
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::shared_ptr<const LlamaModel> model_;
};

TEST_F(SmallModel, PaddedBatchEqualsRowByRow) {
  c10::InferenceMode guard;
  const std::vector<std::vector<int64_t>> rows = {someIds(9, 100, 1), someIds(5, 100, 2), someIds(7, 100, 3)};
  const int64_t T = 9;
  for (bool left : {true, false}) {
    auto ids = torch::zeros({3, T}, torch::kInt64);
    auto mask = torch::zeros({3, T}, torch::kInt64);
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t n = int64_t(rows[size_t(b)].size()), off = left ? T - n : 0;
      ids.index_put_({b, torch::indexing::Slice(off, off + n)}, torch::tensor(rows[size_t(b)]));
      mask.index_put_({b, torch::indexing::Slice(off, off + n)}, 1);
    }
    auto batched = model_->forward({ids, mask, {}}).logits;  // [3,T,V]
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t n = int64_t(rows[size_t(b)].size()), off = left ? T - n : 0;
      ForwardInput single;
      single.inputIds = torch::tensor(rows[size_t(b)]).unsqueeze(0);
      auto ref = model_->forward(single).logits.squeeze(0);
      auto got = batched[b].narrow(0, off, n);
      EXPECT_TRUE(torch::allclose(got, ref, 1e-5, 1e-5))
          << (left ? "left" : "right") << " padding row " << b << " max diff " << (got - ref).abs().max().item<double>();
      EXPECT_FALSE(torch::isnan(batched[b]).any().item<bool>()) << "padded positions must stay finite";
    }
  }
}

TEST_F(SmallModel, CapturesAreConsistentAndOnlyWhatWasAsked) {
  c10::InferenceMode guard;
  const int L = model_->config().numLayers;
  ForwardInput in;
  in.inputIds = torch::tensor(someIds(6, 100, 9)).view({1, 6}).repeat({2, 1});
  TensorCapture all;
  for (Site s : {Site::ResidPre, Site::ResidMid, Site::ResidPost, Site::AttnOut, Site::MlpOut, Site::Q, Site::K,
                 Site::AttnPattern})
    all.requestAllLayers(s, L);
  model_->forward(in, nullptr, &all);
  for (int l = 0; l < L; ++l) {
    EXPECT_TRUE(torch::allclose(all.get(l, Site::ResidMid), all.get(l, Site::ResidPre) + all.get(l, Site::AttnOut)));
    EXPECT_TRUE(torch::allclose(all.get(l, Site::ResidPost), all.get(l, Site::ResidMid) + all.get(l, Site::MlpOut)));
    if (l + 1 < L) {
      EXPECT_TRUE(torch::equal(all.get(l, Site::ResidPost), all.get(l + 1, Site::ResidPre)));
    }
    auto pattern = all.get(l, Site::AttnPattern);  // [B,H,T,T]: rows sum to 1, causal
    EXPECT_TRUE(torch::allclose(pattern.sum(-1), torch::ones({2, 4, 6}), 1e-5, 1e-5));
    EXPECT_EQ(pattern.triu(1).abs().max().item<float>(), 0.0f);
    EXPECT_EQ(all.get(l, Site::Q).sizes(), (std::vector<int64_t>{2, 4, 6, 8}));
    EXPECT_EQ(all.get(l, Site::K).sizes(), (std::vector<int64_t>{2, 2, 6, 8}));
  }
  // Only requested sites are recorded, and kept positions slice the token axis.
  TensorCapture some;
  some.request(1, Site::ResidPost).request(2, Site::Q).keepPositions(torch::tensor({5, 3}));
  model_->forward(in, nullptr, &some);
  EXPECT_FALSE(some.has(0, Site::ResidPost));
  EXPECT_THROW(some.get(0, Site::ResidPre), InvalidArgument);
  auto kept = some.get(1, Site::ResidPost);  // [B,D]
  EXPECT_TRUE(torch::equal(kept[0], all.get(1, Site::ResidPost)[0][5]));
  EXPECT_TRUE(torch::equal(kept[1], all.get(1, Site::ResidPost)[1][3]));
  EXPECT_TRUE(torch::equal(some.get(2, Site::Q)[1], all.get(2, Site::Q)[1].select(1, 3)));
}

TEST_F(SmallModel, LogitPositionsSelectRows) {
  c10::InferenceMode guard;
  ForwardInput in;
  in.inputIds = torch::tensor(someIds(6, 100, 4)).view({1, 6});
  auto full = model_->forward(in).logits;
  ForwardOptions opt;
  opt.logitPositions = torch::tensor({4});
  auto last = model_->forward(in, nullptr, nullptr, opt).logits;  // [1,V]
  EXPECT_TRUE(torch::allclose(last[0], full[0][4], 1e-6, 1e-6));
}

TEST_F(SmallModel, CancelBetweenLayersAndProgress) {
  c10::InferenceMode guard;
  ForwardInput in;
  in.inputIds = torch::tensor(someIds(4, 100, 4)).view({1, 4});
  std::stop_source stop;
  int calls = 0;
  JobControl job(stop.get_token(), [&](const Progress& p) {
    ++calls;
    if (p.done >= 2) stop.request_stop();
  });
  EXPECT_THROW(model_->forward(in, nullptr, nullptr, {}, &job), Cancelled);
  EXPECT_EQ(calls, 2);
}

// The products-only pass of the benchmarks: every projection of every layer and the LM head, nothing else, forward
// alone or with the input gradients of a frozen-base step.
TEST_F(SmallModel, RunProductsMultipliesEveryWeightOnce) {
  const ModelConfig& c = model_->config();
  double weights = double(c.vocabSize) * double(c.hiddenSize);  // LM head
  for (int l = 0; l < c.numLayers; ++l)
    for (Proj p : kAllProj) weights += double(model_->weight(l, p).numel());
  for (bool gradients : {false, true}) {
    EXPECT_DOUBLE_EQ(model_->runProducts(7, gradients), (gradients ? 4.0 : 2.0) * 7 * weights)
        << "input gradients " << gradients;
    EXPECT_TRUE(torch::GradMode::is_enabled()) << "the caller's gradient mode is restored";
  }
  EXPECT_THROW(model_->runProducts(0), InvalidArgument);
}

TEST_F(SmallModel, BadInputsAreErrors) {
  c10::InferenceMode guard;
  ForwardInput in;
  in.inputIds = torch::tensor({1, 2, 100}).view({1, 3});
  EXPECT_THROW(model_->forward(in), InvalidArgument);
  in.inputIds = torch::tensor({1, 2, 3});
  EXPECT_THROW(model_->forward(in), InvalidArgument);
}
