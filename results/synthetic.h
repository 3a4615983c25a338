// Synthetic results directories for tests, screenshots and the GUI's "open example results": a seeded,
// clearly labelled fake analysis of an L-layer, G-KV-head model (late sensitivity, early RoPE influence).
// Every file says "synthetic" in its model and task entries so it can never pass for a measurement.
#pragma once

#include <cmath>
#include <fstream>
#include <random>

#include "results/results.h"
#include "results/transforms.h"

namespace layerscope::results {

namespace detail {
inline void writeText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  if (!out) throw ResultsError("cannot write '" + p.string() + "'");
}
/// Two-sided p of Student t with df degrees of freedom, by Simpson integration of the density (df >= 1).
inline double studentTwoSidedP(double t, int df) {
  const double a = std::abs(t);
  const double c = std::exp(std::lgamma((df + 1) / 2.0) - std::lgamma(df / 2.0)) / std::sqrt(df * M_PI);
  auto f = [&](double x) { return c * std::pow(1 + x * x / df, -(df + 1) / 2.0); };
  const int n = 20000;
  const double h = a / n;
  double s = f(0) + f(a);
  for (int i = 1; i < n; ++i) s += f(i * h) * (i % 2 ? 4 : 2);
  return std::max(0.0, 1.0 - 2.0 * s * h / 3.0);
}
}  // namespace detail

/// Writes scores.json, stats.json, layers.csv, manipulation.json, drop.json, report.json and items.jsonl into `dir`.
inline void writeSyntheticResults(const std::filesystem::path& dir, int L = 32, int G = 8, unsigned seed = 7) {
  using nlohmann::json;
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const double span = std::max(1, L - 1);
  const size_t n = size_t(L);
  std::vector<double> sens(n), lo(n), hi(n), raw(n), cosv(n), fisher(n), probe(n), rope(n), attn(n), mlp(n), block(n);
  std::vector<std::vector<double>> perHead(n, std::vector<double>(size_t(G)));
  for (int l = 0; l < L; ++l) {
    const double x = l / span;
    sens[size_t(l)] = 0.05 + 0.30 / (1 + std::exp(-(x - 0.62) * 12)) + 0.015 * noise(rng);
    lo[size_t(l)] = sens[size_t(l)] * 0.82;
    hi[size_t(l)] = sens[size_t(l)] * 1.18;
    raw[size_t(l)] = sens[size_t(l)] * (4 + 30 * x);
    cosv[size_t(l)] = 0.02 + 0.08 * x * x + 0.004 * noise(rng);
    fisher[size_t(l)] = 0.1 + 0.5 * x + 0.03 * noise(rng);
    probe[size_t(l)] = 0.55 + 0.35 / (1 + std::exp(-(x - 0.5) * 10));
    double r = 0;
    for (int g = 0; g < G; ++g) {
      const double v = std::max(0.0, (0.9 * std::exp(-x * 4) + 0.08) * (1 + 0.35 * std::sin(g * 1.7 + l)) + 0.02 * noise(rng));
      perHead[size_t(l)][size_t(g)] = v;
      r += v;
    }
    rope[size_t(l)] = r;
    attn[size_t(l)] = std::min(0.995, 0.80 + 0.18 * x + 0.01 * noise(rng));
    mlp[size_t(l)] = std::min(0.995, 0.85 + 0.10 * x + 0.01 * noise(rng));
    block[size_t(l)] = std::min(0.995, 0.70 + 0.27 * x + 0.01 * noise(rng));
  }
  attn[0] = 0.35;
  mlp[0] = 0.45;
  block[0] = 0.25;
  LayerScores ls{{"sensitivity.rel_l2", sens},   {"sensitivity.rel_l2.ci_low", lo}, {"sensitivity.rel_l2.ci_high", hi},
                 {"sensitivity.raw_l2", raw},    {"sensitivity.cos", cosv},         {"sensitivity.fisher", fisher},
                 {"sensitivity.probe", probe},   {"rope_influence.gradient", rope}, {"redundancy.attn", attn},
                 {"redundancy.mlp", mlp},        {"redundancy.block", block}};
  const json model = {{"path", "synthetic"}, {"fingerprint", "synthetic-" + std::to_string(seed)}, {"adapter", nullptr},
                      {"config", {{"layers", L}, {"kv_heads", G}}}};
  const json task = {{"path", "synthetic"}, {"fingerprint", "synthetic"}, {"kind", "multiple_choice"},
                     {"items", 200}, {"correct", 131}, {"incorrect", 69}};
  json scores = {{"format", "layerscope.scores/1"}, {"layerscope_version", "synthetic"},
                 {"created_utc", "2026-01-01T00:00:00Z"}, {"model", model}, {"task", task},
                 {"options", {{"sensitivity_mode", "outcome"}, {"metric", "rel_l2"}, {"rope_mode", "gradient"},
                              {"bootstrap", 1000}, {"seed", seed}, {"synthetic", true}}},
                 {"timings_seconds", {{"forward", 1.0}}}, {"num_layers", L}, {"num_kv_heads", G},
                 {"layer_scores", ls}, {"layer_head_scores", {{"rope_influence.gradient.per_head", perHead}}}};
  detail::writeText(dir / "scores.json", scores.dump(1));

  // Spearman r_s = Pearson of average ranks; p from Student t with n-2 df (docs/methods.md section 4).
  const auto rs = averageRanks(sens), rr = averageRanks(rope);
  const double mean = (L + 1) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (int l = 0; l < L; ++l) {
    sxy += (rs[size_t(l)] - mean) * (rr[size_t(l)] - mean);
    sxx += (rs[size_t(l)] - mean) * (rs[size_t(l)] - mean);
    syy += (rr[size_t(l)] - mean) * (rr[size_t(l)] - mean);
  }
  const double r = sxy / std::sqrt(sxx * syy);
  const double p = L > 2 ? detail::studentTwoSidedP(r * std::sqrt((L - 2) / std::max(1e-300, 1 - r * r)), L - 2) : 1.0;
  auto topK = [&](const std::vector<double>& v, int k) {
    std::vector<int> idx(v.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = int(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return v[size_t(a)] > v[size_t(b)]; });
    idx.resize(size_t(k));
    std::sort(idx.begin(), idx.end());
    return idx;
  };
  auto com = [&](const std::vector<double>& v) {
    double s = 0, w = 0;
    for (int l = 0; l < L; ++l) { s += l * v[size_t(l)]; w += v[size_t(l)]; }
    return s / w;
  };
  const int kS = int(std::ceil(0.28 * L)), kR = int(std::ceil(0.31 * L));
  const auto tS = topK(sens, kS), tR = topK(rope, kR);
  int inter = 0;
  for (int a : tS) inter += int(std::count(tR.begin(), tR.end(), a));
  const std::string verdict = p < 0.05 ? (r < 0 ? "anti-localized" : "co-localized") : "inconclusive";
  json stats = {{"format", "layerscope.stats/1"},
                {"profiles", {{"sensitivity", "sensitivity.rel_l2"}, {"rope", "rope_influence.gradient"}}},
                {"stats.spearman.r", r}, {"stats.spearman.p", p}, {"stats.spearman.p_perm", std::max(p, 1e-5)},
                {"stats.spearman.ci_low", std::max(-1.0, r - 0.15)}, {"stats.spearman.ci_high", std::min(1.0, r + 0.12)},
                {"stats.kendall.tau", r * 0.75}, {"stats.kendall.p", std::min(1.0, p * 3)},
                {"top_k", {{"k_sens", kS}, {"k_rope", kR}, {"S_sens", tS}, {"S_rope", tR}}},
                {"jaccard", double(inter) / double(kS + kR - inter)},
                {"centre_of_mass", {{"sensitivity", com(sens)}, {"rope", com(rope)}}},
                {"verdict", verdict},
                {"verdict_text", "synthetic example data: " + verdict}};
  detail::writeText(dir / "stats.json", stats.dump(1));

  std::string csv = "layer";
  for (const auto& [k, v] : ls) csv += "," + k;
  csv += "\n";
  for (int l = 0; l < L; ++l) {
    csv += std::to_string(l);
    for (const auto& [k, v] : ls) {
      char buf[32];
      std::snprintf(buf, sizeof buf, ",%.17g", v[size_t(l)]);
      csv += buf;
    }
    csv += "\n";
  }
  detail::writeText(dir / "layers.csv", csv);

  json curves = json::object();
  std::vector<int> ks(n);
  for (int k = 0; k < L; ++k) ks[size_t(k)] = k;
  const char* modes[] = {"random", "freeze", "shuffle", "skip_attention"};
  for (int m = 0; m < 4; ++m) {
    std::vector<double> acc(n);
    const double mid = 0.35 + 0.1 * m;
    for (int k = 0; k < L; ++k) acc[size_t(k)] = 0.25 + 0.40 / (1 + std::exp(-(k / span - mid) * 14));
    curves[modes[m]] = acc;
  }
  detail::writeText(dir / "manipulation.json",
                    json{{"format", "layerscope.manipulation/1"}, {"k", ks}, {"curves", curves}, {"base_accuracy", 0.655},
                         {"options", {{"synthetic", true}}}, {"model", model}, {"task", task}}
                        .dump(1));

  std::vector<std::pair<double, int>> order;
  for (int l = 0; l < L; ++l) order.push_back({-attn[size_t(l)], l});
  std::sort(order.begin(), order.end());
  json dropped = json::array();
  for (int i = 0; i < std::min(4, L); ++i) dropped.push_back(json{{"layer", order[size_t(i)].second}, {"module", "attn"}});
  detail::writeText(dir / "drop.json",
                    json{{"format", "layerscope.drop/1"}, {"plan", "one-shot"}, {"n", int(dropped.size())}, {"dropped", dropped},
                         {"similarity", {{"attn", attn}, {"mlp", mlp}}}, {"accuracy", 0.640}, {"base_accuracy", 0.655},
                         {"speedup", 1.09}, {"options", {{"synthetic", true}}}}
                        .dump(1));

  json arms = json::array();
  const char* names[] = {"C1", "C2", "C3", "C4", "C5"};
  const double gain[] = {0.041, 0.025, 0.018, 0.012, 0.006};
  auto accuracy = [](double g) { return json{{"arith", 0.62 + g}, {"copy", 0.71 + g * 0.7}, {"sort", 0.55 + g * 1.2}}; };
  for (int a = 0; a < 5; ++a) {
    json arm{{"name", names[a]}, {"lora_layers", a % 2 ? tR : tS}, {"garfa_layers", a < 2 ? tS : tR},
             {"trainable_parameters", 1234567}, {"wall_seconds", 60.0}, {"accuracy", accuracy(gain[a])}};
    if (a == 4) {
      // C5 as the ablation writes it: the mean of three seeded runs of random layers, each run listed.
      json runs = json::array();
      for (int k = 0; k < 3; ++k)
        runs.push_back(json{{"name", "C5-s" + std::to_string(k)}, {"group", "C5"}, {"seed", k},
                            {"accuracy", accuracy(gain[a] + 0.02 * (k - 1))}});
      arm["runs"] = runs;
      arm["seeds"] = 3;
    }
    arms.push_back(arm);
  }
  detail::writeText(dir / "report.json",
                    json{{"format", "layerscope.ablation/1"}, {"arms", arms},
                         {"base", {{"accuracy", {{"arith", 0.62}, {"copy", 0.71}, {"sort", 0.55}}}}},
                         {"tasks", {"arith", "copy", "sort"}}}
                        .dump(1));

  // items.jsonl: 40 four-choice items, about two thirds correct (no task file: the prompts are unavailable).
  std::string items;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < 40; ++i) {
    std::vector<double> ll(4);
    for (auto& v : ll) v = -1.0 - 4.0 * u(rng);
    const bool correct = u(rng) < 0.66;
    const int gold = i % 4, predicted = correct ? gold : (gold + 1) % 4;
    ll[size_t(predicted)] = -0.5 * u(rng);
    const char* choice[] = {" a", " b", " c", " d"};
    items += json{{"id", "synthetic-" + std::to_string(i)}, {"correct", correct}, {"prediction", choice[predicted]},
                  {"gold", choice[gold]}, {"loglik", ll}, {"correct_norm", correct}, {"predicted", predicted},
                  {"decision_position", 20 + i % 7}, {"completion_tokens", 2}}
                 .dump() + "\n";
  }
  detail::writeText(dir / "items.jsonl", items);
}

}  // namespace layerscope::results
