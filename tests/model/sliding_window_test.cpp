// Sliding-window attention per architecture against an independent float64 reference, on sequences longer than the
// window (and longer than the forward's 64-query blocks). The reference reads config.json itself and applies the
// Hugging Face transformers rule on its own: Mistral windows every layer, Qwen2 only with use_sliding_window and
// only the layers >= max_window_layers, Llama never (a Llama config carrying sliding_window must give exactly the
// logits of the same config without it). Key k is visible from query q when q - W < k <= q
// (transformers masking_utils.sliding_window_overlay).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/model/checkpoint.h"
#include "core/model/model.h"
#include "core/model/random_checkpoint.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

using namespace layerscope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json readJson(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// The per-layer window (0 = full attention), decided from the JSON alone.
std::vector<int64_t> referenceWindows(const json& cfg) {
  const int L = cfg.at("num_hidden_layers").get<int>();
  std::vector<int64_t> w(size_t(L), 0);
  const std::string type = cfg.value("model_type", "llama");
  auto size = [&]() -> int64_t {
    if (!cfg.contains("sliding_window")) return 4096;
    return cfg.at("sliding_window").is_null() ? 0 : cfg.at("sliding_window").get<int64_t>();
  };
  if (type == "mistral") {
    for (auto& x : w) x = size();
  } else if (type == "qwen2" && cfg.value("use_sliding_window", false)) {
    const int first = cfg.value("max_window_layers", 28);
    for (int l = first; l < L; ++l) w[size_t(l)] = size();
  }
  return w;
}

// Hugging Face eager Llama/Mistral/Qwen2 forward in float64, one head at a time, with the full T x T mask built
// entry by entry. `ignoreWindows` computes full causal attention everywhere (to show the window matters).
torch::Tensor referenceLogits(const fs::path& dir, const std::vector<int64_t>& ids, bool ignoreWindows = false) {
  const json cfg = readJson(dir / "config.json");
  const auto ck = core::Checkpoint::open(dir);
  auto W = [&](const std::string& n) { return ck.tensor(n).to(torch::kFloat64); };
  auto lin = [&](const torch::Tensor& x, const std::string& p) {
    torch::Tensor y = x.matmul(W(p + ".weight").t());
    return ck.contains(p + ".bias") ? y + W(p + ".bias") : y;
  };
  const int64_t D = cfg.at("hidden_size").get<int64_t>(), H = cfg.at("num_attention_heads").get<int64_t>(),
                G = cfg.at("num_key_value_heads").get<int64_t>();
  const int64_t Dh = cfg.contains("head_dim") ? cfg.at("head_dim").get<int64_t>() : D / H;
  const double eps = cfg.at("rms_norm_eps").get<double>(), theta = cfg.value("rope_theta", 10000.0);
  const int L = cfg.at("num_hidden_layers").get<int>();
  const auto windows = referenceWindows(cfg);
  const int64_t T = int64_t(ids.size());
  auto norm = [&](const torch::Tensor& x, const std::string& w) {
    return W(w) * (x / torch::sqrt(x.pow(2).mean(-1, true) + eps));
  };
  torch::Tensor inv = torch::empty({Dh / 2}, torch::kFloat64);
  for (int64_t i = 0; i < Dh / 2; ++i) inv[i] = 1.0 / std::pow(theta, double(2 * i) / double(Dh));
  const torch::Tensor ang = torch::arange(T, torch::kFloat64).unsqueeze(1) * inv.unsqueeze(0);  // [T, Dh/2]
  const torch::Tensor cosT = torch::cat({ang, ang}, 1).cos(), sinT = torch::cat({ang, ang}, 1).sin();
  auto rope = [&](const torch::Tensor& x) {  // [T, Dh]
    const torch::Tensor rot = torch::cat({-x.narrow(1, Dh / 2, Dh / 2), x.narrow(1, 0, Dh / 2)}, 1);
    return x * cosT + rot * sinT;
  };
  torch::Tensor x = W("model.embed_tokens.weight").index_select(0, torch::tensor(ids, torch::kInt64));  // [T, D]
  for (int l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const int64_t win = ignoreWindows ? 0 : windows[size_t(l)];
    torch::Tensor mask = torch::zeros({T, T}, torch::kFloat64);
    for (int64_t q = 0; q < T; ++q)
      for (int64_t k = 0; k < T; ++k)
        if (k > q || (win > 0 && q - k >= win)) mask[q][k] = -INFINITY;
    const torch::Tensor h = norm(x, p + "input_layernorm.weight");
    const torch::Tensor q = lin(h, p + "self_attn.q_proj"), k = lin(h, p + "self_attn.k_proj"),
                        v = lin(h, p + "self_attn.v_proj");
    std::vector<torch::Tensor> heads;
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t g = hh / (H / G);
      const torch::Tensor qh = rope(q.narrow(1, hh * Dh, Dh)), kh = rope(k.narrow(1, g * Dh, Dh));
      const torch::Tensor probs = torch::softmax(qh.matmul(kh.t()) / std::sqrt(double(Dh)) + mask, -1);
      heads.push_back(probs.matmul(v.narrow(1, g * Dh, Dh)));
    }
    x = x + lin(torch::cat(heads, 1), p + "self_attn.o_proj");
    const torch::Tensor h2 = norm(x, p + "post_attention_layernorm.weight");
    const torch::Tensor gate = lin(h2, p + "mlp.gate_proj");
    x = x + lin(gate * torch::sigmoid(gate) * lin(h2, p + "mlp.up_proj"), p + "mlp.down_proj");
  }
  x = norm(x, "model.norm.weight");
  const bool tied = cfg.value("tie_word_embeddings", false);
  return x.matmul(W(tied ? "model.embed_tokens.weight" : "lm_head.weight").t());  // [T, V]
}

std::vector<int64_t> sequence(int64_t T, uint64_t seed) {
  std::vector<int64_t> ids;
  uint64_t s = seed;
  for (int64_t t = 0; t < T; ++t) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    ids.push_back(int64_t((s >> 33) % 256));
  }
  return ids;
}

torch::Tensor modelLogits(const fs::path& dir, const std::vector<int64_t>& ids) {
  const auto m = core::LlamaModel::load(dir, torch::kFloat64);
  core::ForwardInput in;
  in.inputIds = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  return m->forward(in).logits.squeeze(0);  // [T, V] float64
}

double maxAbs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

core::ModelConfig tinyConfig(const std::string& type) {
  auto c = test::byteConfig({.hidden = 16, .intermediate = 32, .layers = 3, .heads = 4, .kvHeads = 2, .headDim = 4});
  c.modelType = type;
  c.qkvBias = type == "qwen2";
  return c;
}

// Writes `c` as a random checkpoint, then applies `edit` to its config.json.
void makeModel(const fs::path& dir, const core::ModelConfig& c, const std::function<void(json&)>& edit = {}) {
  core::writeRandomCheckpoint(dir, c, {.seed = 11, .weightStd = 0.4});
  if (!edit) return;
  json j = readJson(dir / "config.json");
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
}

constexpr int64_t kT = 150;  // > window and > the forward's 64-query blocks

}  // namespace

TEST(SlidingWindowParity, MistralWindowsEveryLayer) {
  test::TempDir d;
  makeModel(d.path(), tinyConfig("mistral"), [](json& j) { j["sliding_window"] = 9; });
  const auto ids = sequence(kT, 1);
  const auto ref = referenceLogits(d.path(), ids);
  EXPECT_LT(maxAbs(modelLogits(d.path(), ids), ref), 1e-10);
  // The window changes the answer beyond position 9, so a forward without it would fail the comparison.
  EXPECT_GT(maxAbs(referenceLogits(d.path(), ids, /*ignoreWindows=*/true), ref), 1e-3);
}

TEST(SlidingWindowParity, Qwen2WindowsOnlyLayersFromMaxWindowLayersWhenEnabled) {
  test::TempDir on, off;
  auto cfg = [](bool use) {
    return [use](json& j) {
      j["use_sliding_window"] = use;
      j["sliding_window"] = 9;
      j["max_window_layers"] = 1;  // layer 0 full, layers 1 and 2 windowed
      j.erase("layer_types");
    };
  };
  makeModel(on.path(), tinyConfig("qwen2"), cfg(true));
  makeModel(off.path(), tinyConfig("qwen2"), cfg(false));
  const auto ids = sequence(kT, 2);
  const auto refOn = referenceLogits(on.path(), ids);
  EXPECT_LT(maxAbs(modelLogits(on.path(), ids), refOn), 1e-10);
  EXPECT_GT(maxAbs(referenceLogits(on.path(), ids, true), refOn), 1e-3);
  // use_sliding_window false (what released Qwen2 configs carry): full attention although sliding_window is set.
  const auto refOff = referenceLogits(off.path(), ids);
  EXPECT_LT(maxAbs(modelLogits(off.path(), ids), refOff), 1e-10);
  EXPECT_LT(maxAbs(refOff, referenceLogits(off.path(), ids, true)), 1e-15);
}

TEST(SlidingWindowParity, LlamaIgnoresSlidingWindow) {
  test::TempDir plain, carrying;
  makeModel(plain.path(), tinyConfig("llama"));
  makeModel(carrying.path(), tinyConfig("llama"), [](json& j) {
    j["sliding_window"] = 9;
    j["use_sliding_window"] = true;
    j["max_window_layers"] = 0;
  });
  const auto ids = sequence(kT, 3);
  const auto a = modelLogits(plain.path(), ids), b = modelLogits(carrying.path(), ids);
  EXPECT_TRUE(torch::equal(a, b)) << "max difference " << maxAbs(a, b);
  EXPECT_LT(maxAbs(a, referenceLogits(plain.path(), ids)), 1e-10);
}

// Padding under a window: every real token's logits equal the unpadded sequence's, with left and right padding
// (right padding leaves padded query rows whose whole window is padding: fully masked rows, see model.cpp).
TEST(SlidingWindowParity, PaddedBatchesMatchUnpadded) {
  test::TempDir d;
  makeModel(d.path(), tinyConfig("mistral"), [](json& j) { j["sliding_window"] = 9; });
  const auto m = core::LlamaModel::load(d.path(), torch::kFloat64);
  const auto full = sequence(kT, 4);
  const std::vector<int64_t> shortSeq(full.begin(), full.begin() + 100);
  const auto alone = modelLogits(d.path(), shortSeq);  // [100, V]
  for (bool left : {true, false}) {
    torch::Tensor ids = torch::zeros({2, kT}, torch::kInt64), mask = torch::zeros({2, kT}, torch::kInt64);
    ids[0] = torch::tensor(full, torch::kInt64);
    mask[0].fill_(1);
    const int64_t off = left ? kT - 100 : 0;
    ids[1].narrow(0, off, 100).copy_(torch::tensor(shortSeq, torch::kInt64));
    mask[1].narrow(0, off, 100).fill_(1);
    const auto logits = m->forward({ids, mask, {}}).logits;  // [2, T, V]
    EXPECT_LT(maxAbs(logits[1].narrow(0, off, 100), alone), 1e-10) << (left ? "left" : "right") << " padding";
    EXPECT_LT(maxAbs(logits[0], modelLogits(d.path(), full)), 1e-10);
  }
}
