// Intervention points: per-KV-head RoPE multipliers (identity at 1, gradients equal finite differences,
// group sharing), skip attention / MLP, state replacement, LoRA slots.
#include <gtest/gtest.h>

#include "core/model/checkpoint.h"
#include "core/model/cpu_gemm.h"
#include "core/base/error.h"
#include "core/model/model.h"
#include "core/model/random_checkpoint.h"
#include "tests/common/test_util.h"

using namespace layerscope;
using namespace layerscope::core;
using torch::indexing::Slice;

namespace {

ModelConfig smallConfig() {
  ModelConfig c;
  c.hiddenSize = 32, c.intermediateSize = 72, c.numLayers = 3, c.numHeads = 8, c.numKvHeads = 2, c.headDim = 4;
  c.vocabSize = 64, c.rmsNormEps = 1e-5, c.ropeTheta = 10000, c.maxPositionEmbeddings = 128;
  return c;
}

class Interv : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    writeRandomCheckpoint(dir_->path(), smallConfig(), {.seed = 21, .weightStd = 0.25});
    f32_ = LlamaModel::load(dir_->path(), torch::kFloat32);
    f64_ = LlamaModel::load(dir_->path(), torch::kFloat64);
  }
  static void TearDownTestSuite() {
    f32_.reset();
    f64_.reset();
    delete dir_;
  }
  static ForwardInput input(int64_t B = 1, int64_t T = 8) {
    torch::manual_seed(3);
    return {torch::randint(0, 64, {B, T}, torch::kInt64), {}, {}};
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline std::shared_ptr<const LlamaModel> f32_, f64_;
};

// Next-token cross-entropy over the sequence, the loss of docs/methods.md section 3.
torch::Tensor nextTokenLoss(const torch::Tensor& logits, const torch::Tensor& ids) {
  const int64_t T = ids.size(1);
  auto l = logits.narrow(1, 0, T - 1).reshape({-1, logits.size(-1)});
  return torch::nn::functional::cross_entropy(l, ids.narrow(1, 1, T - 1).reshape({-1}));
}

}  // namespace

TEST_F(Interv, RopeMultipliersAtOneChangeNothing) {
  c10::InferenceMode guard;
  auto in = input(2, 7);
  auto base = f32_->forward(in).logits;
  Interventions iv;
  iv.ropeAlpha.assign(3, torch::ones({2}));
  auto same = f32_->forward(in, &iv).logits;
  EXPECT_TRUE(torch::equal(base, same));
  iv.ropeAlpha[1] = torch::tensor({1.0f, 1.5f});
  EXPECT_FALSE(torch::allclose(base, f32_->forward(in, &iv).logits));
}

TEST_F(Interv, RopeMultiplierIsSharedByTheQueryHeadsOfItsGroup) {
  c10::InferenceMode guard;
  auto in = input(1, 6);
  TensorCapture a, b;
  for (auto* cap : {&a, &b}) cap->request(1, Site::Q).request(1, Site::K);
  f32_->forward(in, nullptr, &a);
  Interventions iv;
  iv.ropeAlpha.resize(3);
  iv.ropeAlpha[1] = torch::tensor({1.0f, 0.5f});  // change KV group 1 only
  f32_->forward(in, &iv, &b);
  // n_rep = 4: query heads 0-3 read KV head 0, heads 4-7 read KV head 1 (HF repeat_kv order).
  EXPECT_TRUE(torch::equal(a.get(1, Site::Q).narrow(1, 0, 4), b.get(1, Site::Q).narrow(1, 0, 4)));
  EXPECT_FALSE(torch::allclose(a.get(1, Site::Q).narrow(1, 4, 4), b.get(1, Site::Q).narrow(1, 4, 4)));
  EXPECT_TRUE(torch::equal(a.get(1, Site::K)[0][0], b.get(1, Site::K)[0][0]));
  EXPECT_FALSE(torch::allclose(a.get(1, Site::K)[0][1], b.get(1, Site::K)[0][1]));
}

TEST_F(Interv, RopeMultipliersKeepScoresRelative) {
  // q.k under scaled frequencies still depends only on the offset: shifting every position id by a constant
  // leaves the logits unchanged.
  c10::InferenceMode guard;
  auto in = input(1, 6);
  Interventions iv;
  iv.ropeAlpha.assign(3, torch::tensor({0.7, 1.9}, torch::kFloat64));
  auto base = f64_->forward(in, &iv).logits;
  auto shifted = in;
  shifted.positionIds = torch::arange(6, torch::kInt64).view({1, 6}) + 13;
  EXPECT_TRUE(torch::allclose(base, f64_->forward(shifted, &iv).logits, 1e-9, 1e-9));
}

TEST_F(Interv, RopeBetaGradientMatchesFiniteDifferences) {
  auto in = input(1, 8);
  auto beta = torch::zeros({3, 2}, torch::kFloat64).requires_grad_(true);  // [L,G]
  auto lossAt = [&](const torch::Tensor& b) {
    Interventions iv;
    for (int l = 0; l < 3; ++l) iv.ropeAlpha.push_back(torch::exp(b[l]));
    return nextTokenLoss(f64_->forward(in, &iv).logits, in.inputIds);
  };
  auto loss = lossAt(beta);
  loss.backward();
  auto grad = beta.grad().clone();
  torch::NoGradGuard ng;
  const double h = 1e-5;
  for (int l = 0; l < 3; ++l)
    for (int g = 0; g < 2; ++g) {
      auto plus = torch::zeros({3, 2}, torch::kFloat64), minus = plus.clone();
      plus[l][g] = h;
      minus[l][g] = -h;
      const double fd = (lossAt(plus).item<double>() - lossAt(minus).item<double>()) / (2 * h);
      const double an = grad[l][g].item<double>();
      EXPECT_NEAR(an, fd, 1e-7 + 1e-5 * std::abs(fd)) << "layer " << l << " group " << g;
    }
  EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
}

TEST_F(Interv, SkipAttentionAndMlpRemoveExactlyTheirSubBlock) {
  c10::InferenceMode guard;
  auto in = input(2, 6);
  TensorCapture base, skipped;
  for (auto* cap : {&base, &skipped})
    for (Site s : {Site::ResidPre, Site::ResidMid, Site::ResidPost}) cap->requestAllLayers(s, 3);
  auto logitsBase = f32_->forward(in, nullptr, &base).logits;
  Interventions iv;
  iv.skipAttention = {false, true, false};
  iv.skipMlp = {false, false, true};
  auto logitsSkipped = f32_->forward(in, &iv, &skipped).logits;
  for (Site s : {Site::ResidPre, Site::ResidMid, Site::ResidPost})
    EXPECT_TRUE(torch::equal(base.get(0, s), skipped.get(0, s))) << "layer 0 must be untouched";
  EXPECT_TRUE(torch::equal(skipped.get(1, Site::ResidMid), skipped.get(1, Site::ResidPre)));
  EXPECT_FALSE(torch::allclose(skipped.get(1, Site::ResidPost), skipped.get(1, Site::ResidMid)));
  EXPECT_TRUE(torch::equal(skipped.get(2, Site::ResidPost), skipped.get(2, Site::ResidMid)));
  EXPECT_FALSE(torch::allclose(logitsBase, logitsSkipped));
}

TEST_F(Interv, ReplacementChangesExactlyTheChosenStates) {
  c10::InferenceMode guard;
  auto in = input(2, 8);
  TensorCapture base, rep;
  for (auto* cap : {&base, &rep})
    for (Site s : {Site::ResidPre, Site::ResidPost}) cap->requestAllLayers(s, 3);
  f32_->forward(in, nullptr, &base);
  Interventions iv;
  StateReplacement r;
  r.layer = 1;
  r.mask = torch::zeros({2, 8}, torch::kBool);
  r.mask[0][3] = true;
  r.mask[0][5] = true;
  r.values = torch::randn({2, 8, 32});
  iv.replacements.push_back(r);
  f32_->forward(in, &iv, &rep);
  auto pre = rep.get(1, Site::ResidPre);
  EXPECT_TRUE(torch::equal(pre[0][3], r.values[0][3]));
  EXPECT_TRUE(torch::equal(pre[0][5], r.values[0][5]));
  auto untouched = r.mask.logical_not();
  EXPECT_TRUE(torch::equal(pre.index({untouched}), base.get(1, Site::ResidPre).index({untouched})));
  EXPECT_TRUE(torch::equal(rep.get(0, Site::ResidPost), base.get(0, Site::ResidPost)));  // earlier layer
  // Causality: positions before 3 in row 0, and all of row 1, are unchanged at every later layer.
  for (int l = 1; l < 3; ++l) {
    EXPECT_TRUE(torch::equal(rep.get(l, Site::ResidPost)[0].narrow(0, 0, 3), base.get(l, Site::ResidPost)[0].narrow(0, 0, 3)));
    EXPECT_TRUE(torch::equal(rep.get(l, Site::ResidPost)[1], base.get(l, Site::ResidPost)[1]));
  }
  EXPECT_FALSE(torch::allclose(rep.get(2, Site::ResidPost)[0][7], base.get(2, Site::ResidPost)[0][7]));
}

TEST_F(Interv, LoraWithZeroBIsIdentityAndMatchesMergedWeights) {
  auto in = input(1, 6);
  Interventions iv;
  iv.lora.resize(3);
  torch::manual_seed(9);
  const int r = 4;
  for (Proj p : {Proj::Q, Proj::V, Proj::Down}) {
    const auto& w = f32_->weight(2, p);
    iv.lora[2][int(p)] = {torch::randn({r, w.size(1)}) * 0.3, torch::zeros({w.size(0), r}), 2.0, 0.0};
  }
  torch::Tensor base;
  {
    c10::InferenceMode guard;
    base = f32_->forward(in).logits;
    EXPECT_TRUE(torch::equal(base, f32_->forward(in, &iv).logits)) << "B = 0 must be the identity";
  }
  // Non-zero B: equal to a checkpoint whose weights have scale * B A folded in.
  for (Proj p : {Proj::Q, Proj::V, Proj::Down}) {
    auto& s = iv.lora[2][int(p)];
    s.B = (torch::randn({s.B.size(0), r}) * 0.3).requires_grad_(true);
    s.A.requires_grad_(true);
  }
  auto loss = nextTokenLoss(f32_->forward(in, &iv).logits, in.inputIds);
  loss.backward();
  for (Proj p : {Proj::Q, Proj::V, Proj::Down}) {
    EXPECT_GT(iv.lora[2][int(p)].A.grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(iv.lora[2][int(p)].B.grad().abs().sum().item<double>(), 0.0);
  }
  EXPECT_FALSE(f32_->weight(2, Proj::Q).requires_grad());
  test::TempDir merged;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  {
    torch::NoGradGuard ng;
    for (auto [name, t] : f32_->namedWeights()) {
      for (Proj p : {Proj::Q, Proj::V, Proj::Down})
        if (name == hfProjPrefix(2, p) + ".weight") {
          const auto& s = iv.lora[2][int(p)];
          t = t + s.scale * torch::matmul(s.B, s.A);
        }
      tensors.emplace_back(name, t.detach().clone());
    }
    writeSafetensors(merged / "model.safetensors", tensors);
    std::filesystem::copy_file(dir_->path() / "config.json", merged / "config.json");
    c10::InferenceMode guard;
    auto withLora = f32_->forward(in, &iv).logits;
    auto fromMerged = LlamaModel::load(merged.path(), torch::kFloat32)->forward(in).logits;
    EXPECT_TRUE(torch::allclose(withLora, fromMerged, 1e-5, 1e-5)) << (withLora - fromMerged).abs().max().item<double>();
    EXPECT_FALSE(torch::allclose(withLora, base, 1e-3, 1e-3));
  }
}

TEST_F(Interv, InvalidInterventionsAreErrors) {
  c10::InferenceMode guard;
  auto in = input(1, 4);
  Interventions iv;
  iv.replacements.push_back({3, torch::zeros({1, 4}, torch::kBool), torch::zeros({1, 4, 32})});
  try {
    f32_->forward(in, &iv);
    ADD_FAILURE();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 is out of range 0..2"), std::string::npos) << e.what();
  }
  Interventions bad;
  bad.ropeAlpha.assign(3, torch::ones({3}));
  EXPECT_THROW(f32_->forward(in, &bad), InvalidArgument);
  Interventions shortSkip;
  shortSkip.skipAttention = {true};
  EXPECT_THROW(f32_->forward(in, &shortSkip), InvalidArgument);
}

TEST_F(Interv, PerRowRopeMultipliersEqualRunningRowsSeparately) {
  c10::InferenceMode guard;
  auto in = input(2, 6);
  Interventions both;
  auto a0 = torch::tensor({0.5f, 1.3f}), a1 = torch::tensor({2.0f, 0.8f});
  both.ropeAlpha.assign(3, torch::stack({a0, a1}));  // [B,G]
  auto together = f32_->forward(in, &both).logits;
  for (int b = 0; b < 2; ++b) {
    Interventions one;
    one.ropeAlpha.assign(3, b == 0 ? a0 : a1);
    auto alone = f32_->forward({in.inputIds.narrow(0, b, 1), {}, {}}, &one).logits[0];
    EXPECT_TRUE(torch::allclose(together[b], alone, 1e-5, 1e-5)) << "row " << b;
  }
  Interventions wrongBatch;
  wrongBatch.ropeAlpha.assign(3, torch::ones({3, 2}));
  EXPECT_THROW(f32_->forward(in, &wrongBatch), InvalidArgument);
}

// bfloat16 on the CPU widens each product to float32. With frozen weights the backward must not keep a float32
// copy of every weight (FrozenWeightLinear in model.cpp saves the bfloat16 tensor instead): the RoPE gradient
// through that path equals the one through plain autograd (weights that require a gradient take it). The memory
// it saves is measured in docs/scale.md.
TEST_F(Interv, FrozenBfloat16WeightsGiveTheSameRopeGradientAsPlainAutograd) {
  auto in = input(2, 12);
  std::map<std::string, torch::Tensor> frozen, trainable;
  {
    torch::NoGradGuard ng;
    for (const auto& [name, t] : f32_->namedWeights()) {
      frozen[name] = t.to(torch::kBFloat16);
      trainable[name] = frozen[name].clone().requires_grad_(true);
    }
  }
  const auto a = LlamaModel::fromTensors(smallConfig(), frozen, torch::kBFloat16);
  const auto b = LlamaModel::fromTensors(smallConfig(), trainable, torch::kBFloat16);
  ASSERT_FALSE(a->weight(1, Proj::Gate).requires_grad());
  ASSERT_TRUE(b->weight(1, Proj::Gate).requires_grad());
  auto gradOf = [&](const LlamaModel& m) {
    auto beta = torch::zeros({2, 3, 2}, torch::kFloat32).requires_grad_(true);  // [B,L,G]
    Interventions iv;
    for (int l = 0; l < 3; ++l) iv.ropeAlpha.push_back(torch::exp(beta.select(1, l)));
    nextTokenLoss(m.forward(in, &iv).logits, in.inputIds).backward();
    return beta.grad();
  };
  const auto ga = gradOf(*a), gb = gradOf(*b);
  EXPECT_GT(ga.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(ga, gb)) << (ga - gb).abs().max().item<double>();
}

// A vocabulary whose output projection exceeds one widening slice (2^24 elements): the logits are computed slice
// by slice and equal the one-piece widened product exactly (where the CPU multiplies bfloat16 natively: the one
// native product); the RoPE gradient through the sliced backward matches
// plain autograd's up to summation order.
TEST_F(Interv, SlicedWideningOfALargeOutputProjectionChangesNoLogit) {
  ModelConfig c = smallConfig();
  c.vocabSize = (1 << 24) / c.hiddenSize + 1000;  // 525,288 rows of 32: just over one slice
  std::map<std::string, torch::Tensor> frozen, trainable;
  {
    torch::NoGradGuard ng;
    torch::manual_seed(4);
    for (const auto& [name, shape] : Checkpoint::expectedTensors(c)) {
      frozen[name] = (shape.size() == 1 ? torch::ones(shape) : torch::randn(shape) * 0.3).to(torch::kBFloat16);
      trainable[name] = frozen[name].clone().requires_grad_(true);
    }
  }
  const auto m = LlamaModel::fromTensors(c, frozen, torch::kBFloat16);
  const auto t = LlamaModel::fromTensors(c, trainable, torch::kBFloat16);
  auto ids = torch::randint(0, c.vocabSize, {2, 5}, torch::kInt64);
  {
    c10::InferenceMode guard;
    const auto out = m->forward({ids, {}, {}});
    // The one-piece product with the library the forward uses (cpu_gemm.h; another library may sum in another
    // order). On CPUs with bfloat16 arithmetic the forward multiplies natively instead (cpuNativeBf16): one product,
    // the same one as a direct call.
    const auto direct =
        cpuNativeBf16()
            ? cpuLinearBf16Native(out.finalHidden, frozen.at(kHfLmHead)).to(torch::kFloat32)
            : cpuLinear(out.finalHidden.to(torch::kFloat32), frozen.at(kHfLmHead).to(torch::kFloat32))
                  .to(torch::kBFloat16)
                  .to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(out.logits, direct)) << (out.logits - direct).abs().max().item<double>();
  }
  auto gradOf = [&](const LlamaModel& model) {
    auto beta = torch::zeros({2, 3, 2}, torch::kFloat32).requires_grad_(true);
    Interventions iv;
    for (int l = 0; l < 3; ++l) iv.ropeAlpha.push_back(torch::exp(beta.select(1, l)));
    nextTokenLoss(model.forward({ids, {}, {}}, &iv).logits, ids).backward();
    return beta.grad();
  };
  const auto ga = gradOf(*m), gb = gradOf(*t);
  EXPECT_GT(ga.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(ga, gb, 2e-2, 1e-4)) << (ga - gb).abs().max().item<double>();
}
