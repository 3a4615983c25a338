// Paper-exact semantics (analysis/paper_semantics.h) against tests/reference/paper_semantics/
// paper_semantics_reference.json, written by make_paper_semantics_reference.py: numpy re-implementations of the
// official LLM-Drop, ShortGPT and Attend-First code (repository, commit and file:line in that script). Each test
// also checks that the paper rule differs from LayerScope's where the two definitions differ.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "analysis/layer_analyses.h"
#include "analysis/paper_semantics.h"
#include "core/base/error.h"

using namespace layerscope;
using namespace layerscope::analysis;
using nlohmann::json;

namespace {

const json& ref() {
  static const json r = [] {
    std::ifstream in(LAYERSCOPE_PAPER_REFERENCE);
    if (!in) throw std::runtime_error("cannot open " LAYERSCOPE_PAPER_REFERENCE);
    return json::parse(in);
  }();
  return r;
}

torch::Tensor tensor2d(const json& j) {
  const auto rows = j.get<std::vector<std::vector<double>>>();
  auto t = torch::empty({int64_t(rows.size()), int64_t(rows.front().size())}, torch::kFloat64);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) t[int64_t(r)][int64_t(c)] = rows[r][c];
  return t;
}

std::vector<std::vector<int32_t>> seqs(const json& j) { return j.get<std::vector<std::vector<int32_t>>>(); }

// The toy residual network of the reference: h += tanh(h A_l) a_l, h += tanh(h M_l) m_l, per token.
struct Toy {
  explicit Toy(const json& j) : L(j["layers"]), h0(tensor2d(j["h0"])), a(j["a"].get<std::vector<double>>()),
                                m(j["m"].get<std::vector<double>>()) {
    for (int l = 0; l < L; ++l) A.push_back(tensor2d(j["A"][size_t(l)])), M.push_back(tensor2d(j["M"][size_t(l)]));
  }
  static double meanCos(const torch::Tensor& x, const torch::Tensor& y) {
    return ((x * y).sum(-1) / ((x * x).sum(-1) * (y * y).sum(-1)).sqrt()).mean().item<double>();
  }
  SubBlockSimilarities operator()(const std::vector<bool>& skipA, const std::vector<bool>& skipM) const {
    SubBlockSimilarities s{Eigen::VectorXd(L), Eigen::VectorXd(L)};
    auto h = h0.clone();
    for (int l = 0; l < L; ++l) {
      auto mid = skipA[size_t(l)] ? h : h + torch::tanh(h.matmul(A[size_t(l)])) * a[size_t(l)];
      s.attn[l] = meanCos(h, mid);
      auto post = skipM[size_t(l)] ? mid : mid + torch::tanh(mid.matmul(M[size_t(l)])) * m[size_t(l)];
      s.mlp[l] = meanCos(mid, post);
      h = post;
    }
    return s;
  }
  int L;
  torch::Tensor h0;
  std::vector<torch::Tensor> A, M;
  std::vector<double> a, m;
};

std::vector<std::pair<int, std::string>> keys(const std::vector<PlannedDrop>& p) {
  std::vector<std::pair<int, std::string>> k;
  for (const auto& d : p) k.emplace_back(d.layer, d.mlp ? "mlp" : "attn");
  return k;
}
std::vector<std::pair<int, std::string>> jsonKeys(const json& p) {
  std::vector<std::pair<int, std::string>> k;
  for (const auto& d : p) k.emplace_back(d["layer"].get<int>(), d["module"].get<std::string>());
  return k;
}

}  // namespace

TEST(PaperSemantics, NamesRoundTripAndUnknownIsRejected) {
  for (auto s : allSemantics()) EXPECT_EQ(parseSemantics(semanticsName(s)), s);
  EXPECT_THROW(parseSemantics("llmdrop"), InvalidArgument);
  try {
    (void)parseSemantics("llmdrop");
  } catch (const InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "unknown semantics 'llmdrop' (expected layerscope, llm-drop, shortgpt or afcl)");
  }
  EXPECT_TRUE(semanticsDefines(Semantics::Afcl, "manipulation"));
  EXPECT_FALSE(semanticsDefines(Semantics::Afcl, "drop"));
  EXPECT_FALSE(semanticsDefines(Semantics::ShortGpt, "manipulation"));
  // Each analysis runs with the requested semantics where it defines one, else with LayerScope's.
  EXPECT_EQ(semanticsFor("shortgpt", "redundancy"), Semantics::ShortGpt);
  EXPECT_EQ(semanticsFor("shortgpt", "manipulation"), Semantics::LayerScope);
  EXPECT_EQ(semanticsFor("afcl", "manipulation"), Semantics::Afcl);
  EXPECT_EQ(semanticsFor("afcl", "redundancy"), Semantics::LayerScope);
  EXPECT_EQ(semanticsFor("llm-drop", "drop"), Semantics::LlmDrop);
  EXPECT_THROW(semanticsFor("llmdrop", "drop"), InvalidArgument);
}

TEST(PaperSemantics, ShortGptPerTokenBlockInfluenceMatchesOfficialRule) {
  const auto& r = ref()["shortgpt"];
  const auto x = tensor2d(r["x"]), y = tensor2d(r["y"]);
  const auto sim = shortgptTokenSimilarity(x, y);
  const auto bi = shortgptTokenBi(sim, false), bia = shortgptTokenBi(sim, true);
  const auto eSim = r["token_sim"].get<std::vector<double>>(), eBi = r["token_bi"].get<std::vector<double>>(),
             eBia = r["token_bi_angular"].get<std::vector<double>>();
  for (size_t t = 0; t < eSim.size(); ++t) {
    EXPECT_NEAR(sim[int64_t(t)].item<double>(), eSim[t], 1e-12) << t;
    EXPECT_NEAR(bi[int64_t(t)].item<double>(), eBi[t], 1e-12) << t;
    EXPECT_NEAR(bia[int64_t(t)].item<double>(), eBia[t], 1e-7) << t;  // arccos near +-1 amplifies rounding
  }
  EXPECT_DOUBLE_EQ(sim[3].item<double>(), 0.5);  // zero vector: nan -> 0.5 (LayerScope: cosine 0)
  EXPECT_NEAR(bia.mean().item<double>(), r["mean_bi_angular"].get<double>(), 1e-7);
  // the per-token angular BI is not LayerScope's arccos of the mean cosine
  EXPECT_GT(std::abs(r["mean_bi_angular"].get<double>() - r["layerscope_bi_angular"].get<double>()), 1e-2);
  EXPECT_GT(std::abs(r["mean_bi"].get<double>() - r["layerscope_bi"].get<double>()), 1e-3);  // nan -> 0.5 vs 0
}

TEST(PaperSemantics, CalibrationWindowsAndChunksMatchOfficialPreprocessing) {
  const auto& r = ref()["calibration"];
  const auto prompts = seqs(r["prompts"]);
  EXPECT_EQ(shortgptWindows(prompts, r["windows_stride"]), seqs(r["windows"]));
  EXPECT_EQ(llmDropCalibrationChunks(prompts, r["bos"].get<int32_t>(), r["eos"].get<int32_t>(), r["chunk"]), seqs(r["chunks"]));
  EXPECT_EQ(llmDropCalibrationChunks(seqs(r["small_prompts"]), r["bos"].get<int32_t>(), r["eos"].get<int32_t>(), r["chunk"]),
            seqs(r["small_chunks"]));
  EXPECT_NE(seqs(r["chunks"]), prompts);  // not LayerScope's calibration (one sequence per prompt)
  EXPECT_THROW(shortgptWindows(prompts, 0), InvalidArgument);
}

TEST(PaperSemantics, IterativePlansFollowLlmDropSkippingAndLayerScopeRescoring) {
  const auto& r = ref()["iterative"];
  const Toy toy(r);
  for (const auto& kinds : {"attn", "mlp", "all"}) {
    const auto& e = r["plans"][kinds];
    const int n = e["n"];
    const auto official = iterativeDropPlan(toy.L, n, kinds, true, toy);
    const auto ours = iterativeDropPlan(toy.L, n, kinds, false, toy);
    EXPECT_EQ(keys(official), jsonKeys(e["llm_drop"])) << kinds;
    EXPECT_EQ(keys(ours), jsonKeys(e["layerscope"])) << kinds;
    EXPECT_NE(keys(official), keys(ours)) << kinds;
    for (size_t i = 0; i < official.size(); ++i)
      EXPECT_NEAR(official[i].similarity, e["llm_drop"][i]["similarity"].get<double>(), 1e-9) << kinds << " " << i;
  }
  EXPECT_THROW(iterativeDropPlan(toy.L, toy.L + 1, "attn", true, toy), InvalidArgument);
  EXPECT_THROW(iterativeDropPlan(toy.L, 2, "block", true, toy), InvalidArgument);
}

TEST(PaperSemantics, ConsecutiveBlockDropReadsColumnNUnderLlmDrop) {
  const auto& r = ref()["consecutive"];
  const int L = r["layers"];
  Eigen::MatrixXd sim(L, L);
  for (int i = 0; i < L; ++i)
    for (int g = 0; g < L; ++g) {
      const auto& v = r["similarity"][size_t(i)][size_t(g)];
      sim(i, g) = v.is_null() ? -std::numeric_limits<double>::infinity() : v.get<double>();
    }
  int differ = 0;
  for (int n = 1; n < L; ++n) {
    const int official = consecutiveBlockStart(sim, n, true), ours = consecutiveBlockStart(sim, n, false);
    EXPECT_EQ(official, r["llm_drop_begin"][std::to_string(n)].get<int>()) << n;
    EXPECT_EQ(ours, r["layerscope_begin"][std::to_string(n)].get<int>()) << n;
    differ += official != ours;
  }
  EXPECT_GT(differ, 0);
  EXPECT_EQ(consecutiveBlockStart(sim, L, false), 0);
  EXPECT_THROW(consecutiveBlockStart(sim, L, true), InvalidArgument);  // column L does not exist
}

TEST(PaperSemantics, RmsNormLikeMatchesLlamaRmsNorm) {
  const auto& r = ref()["drop_norm"];
  const auto x = tensor2d(r["x"]).to(torch::kFloat32), o = tensor2d(r["module_out"]).to(torch::kFloat32);
  auto w = torch::tensor(r["weight"].get<std::vector<double>>(), torch::kFloat32);
  const auto xn = rmsNormLike(x, w, r["eps"]);
  EXPECT_LT((xn.to(torch::kFloat64) - tensor2d(r["normed"])).abs().max().item<double>(), 1e-5);
  const double simFalse = torch::cosine_similarity(xn, o, -1).mean().item<double>();
  EXPECT_NEAR(simFalse, r["sim_drop_norm_false"].get<double>(), 1e-5);
  EXPECT_GT(std::abs(r["sim_drop_norm_false"].get<double>() - r["sim_drop_norm_true"].get<double>()), 1e-2);
}

TEST(PaperSemantics, AfclShuffleIsTorchRandpermSeededKTimesT) {
  const auto& r = ref()["afcl"];
  for (const auto& c : r["shuffle"]) {
    const auto perm = afclShufflePermutation(c["dims"], c["k"], c["t"]);
    std::vector<int64_t> got(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel());
    EXPECT_EQ(got, c["perm"].get<std::vector<int64_t>>()) << c["k"] << "*" << c["t"];
  }
}

TEST(PaperSemantics, AfclPositionRuleCoversEverythingButTheLastFedToken) {
  const auto& r = ref()["afcl"]["positions"];
  core::BatchInfo b;
  std::vector<std::pair<int, int>> rows = r["rows"].get<std::vector<std::pair<int, int>>>();
  int T = 0;
  for (auto [p, n] : rows) b.promptLength.push_back(p), b.length.push_back(n), b.item.push_back(b.item.size()), T = std::max(T, n);
  b.inputIds = torch::zeros({int64_t(rows.size()), T}, torch::kInt64);
  ManipulationContext ctx;
  EXPECT_EQ(manipulatedPositions(ManipulationMode::Random, b, ctx, Semantics::Afcl), r["afcl"].get<std::vector<int64_t>>());
  EXPECT_EQ(manipulatedPositions(ManipulationMode::Random, b, ctx, Semantics::LayerScope),
            r["layerscope"].get<std::vector<int64_t>>());
}
