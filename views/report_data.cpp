// Reading a reproduce folder into the report's tables (see report_data.h).
#include "views/report_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "results/reader.h"

namespace layerscope::views {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string num(double v, int sig = 3) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e6)) std::snprintf(buf, sizeof buf, "%.*e", sig - 1, v);
  else std::snprintf(buf, sizeof buf, "%.*g", sig, v);
  return buf;
}

std::string pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
  return buf;
}

std::string pts(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f", v);
  return buf;
}

std::string csvCell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "none";
  return v.dump();
}

json readJson(const fs::path& p) { return results::detail::readJsonFile(p); }

/// Llama 3.1 8B's config in the names of scores.json's model.config summary.
const std::vector<std::pair<std::string, json>>& paperShape() {
  static const std::vector<std::pair<std::string, json>> shape = {
      {"layers", 32},       {"hidden", 4096},    {"intermediate", 14336}, {"heads", 32},
      {"kv_heads", 8},      {"head_dim", 128},   {"vocab", 128256},       {"rope_theta", 500000.0}};
  return shape;
}

}  // namespace

std::vector<int> PaperValues::sensitivityLayers() {
  std::vector<int> v(9);
  std::iota(v.begin(), v.end(), 23);
  return v;
}

std::vector<int> PaperValues::ropeLayers() {
  std::vector<int> v(10);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string layerRanges(std::vector<int> layers) {
  std::sort(layers.begin(), layers.end());
  std::string out;
  for (size_t i = 0; i < layers.size();) {
    size_t j = i;
    while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(layers[i]);
    if (j > i) out += (j == i + 1 ? ", " : "-") + std::to_string(layers[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::string ReportTable::csv() const {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) out.append(i ? "," : "").append(csvCell(cells[i]));  // g++ 12 -Warray-bounds
    out += "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

ReproduceReportData readReproduceReport(const fs::path& dir) {
  ReproduceReportData d;
  d.dir = dir;
  if (!fs::exists(dir / "summary.json"))
    throw results::ResultsError("'" + dir.string() + "' has no summary.json: expected the output folder of a finished "
                                "`layerscope-cli reproduce` (run it again to finish or resume it)");
  d.summary = readJson(dir / "summary.json");
  results::detail::checkFormat(d.summary, "layerscope.reproduce/1", dir / "summary.json");
  d.bundle = results::readResultsDir(dir / "analysis");
  if (!d.bundle.scores || !d.bundle.stats)
    throw results::ResultsError("'" + (dir / "analysis").string() + "': expected scores.json and stats.json of the analysis step");
  if (fs::exists(dir / "ablation" / "report.json")) {
    d.bundle.ablation = results::readAblation(dir / "ablation" / "report.json");
    // The ablation names a task after its file's stem (arc/test.jsonl: "test"); the report uses the benchmark's name.
    auto& ab = *d.bundle.ablation;
    for (const auto& b : d.summary.value("benchmarks", json::array())) {
      if (!b.contains("file") || !b["file"].is_string() || !b.contains("name") || !b["name"].is_string()) continue;
      const std::string stem = fs::path(b["file"].get<std::string>()).stem().string(), name = b["name"].get<std::string>();
      if (stem == name || std::count(ab.tasks.begin(), ab.tasks.end(), stem) != 1 ||
          std::count(ab.tasks.begin(), ab.tasks.end(), name) != 0)
        continue;
      std::replace(ab.tasks.begin(), ab.tasks.end(), stem, name);
      auto rename = [&](std::map<std::string, double>& m) {
        if (auto it = m.find(stem); it != m.end()) {
          m[name] = it->second;
          m.erase(stem);
        }
      };
      rename(ab.baseAccuracy);
      for (auto& a : ab.arms) rename(a.accuracy);
    }
  }

  // HumanEval(+) per arm; C5's seed runs (C5-s0, C5-s1, ...) averaged as the ablation report does.
  std::map<std::string, CodeArmResult> code;
  if (fs::is_directory(dir / "humaneval")) {
    for (const auto& e : fs::directory_iterator(dir / "humaneval")) {
      const fs::path file = e.path() / "result.json";
      if (!fs::exists(file)) continue;
      const json r = readJson(file);
      std::string arm = e.path().filename().string();
      if (arm.rfind("C5-", 0) == 0) arm = "C5";
      auto& c = code[arm];
      c.arm = arm;
      const results::detail::Where w{file, ""};
      c.passed += results::detail::toInt(results::detail::require(r, "passed", w), w / "passed");
      c.problems += results::detail::toInt(results::detail::require(r, "problems", w), w / "problems");
      c.runs += 1;
      if (auto t = r.find("timings_seconds"); t != r.end())
        for (const auto& [k, v] : t->items())
          if (v.is_number()) c.seconds += v.get<double>();
    }
  }
  for (auto& [arm, c] : code) {
    c.passAt1 = c.problems > 0 ? double(c.passed) / double(c.problems) : results::kNaN;
    d.code.push_back(c);
  }
  std::sort(d.code.begin(), d.code.end(), [](const CodeArmResult& a, const CodeArmResult& b) {
    return (a.arm == "base") != (b.arm == "base") ? a.arm == "base" : a.arm < b.arm;
  });
  if (d.bundle.ablation && !d.code.empty()) {  // HumanEval(+) joins the grouped bars as one more task
    d.codeTask = "humaneval+ pass@1";
    for (const auto& b : d.summary.value("benchmarks", json::array()))
      if (b.value("name", "") == "humaneval_plus" && b.value("layout", "") == "humaneval") d.codeTask = "humaneval pass@1";
    auto& ab = *d.bundle.ablation;
    ab.tasks.push_back(d.codeTask);
    for (const auto& c : d.code) {
      if (c.arm == "base") ab.baseAccuracy[d.codeTask] = c.passAt1;
      for (auto& a : ab.arms)
        if (a.name == c.arm) a.accuracy[d.codeTask] = c.passAt1;
    }
  }

  // Is this the paper's model? Compare the config's shape with Llama 3.1 8B's.
  const json& cfg = d.bundle.scores->model.value("config", json::object());
  for (const auto& [key, want] : paperShape()) {
    json have = key == "rope_theta" ? (cfg.contains("rope") ? cfg["rope"].value("theta", json()) : json()) : cfg.value(key, json());
    if (have.is_null()) d.shapeDifferences.push_back(key + " unknown (paper: " + text(want) + ")");
    else if (!have.is_number() || have.get<double>() != want.get<double>())
      d.shapeDifferences.push_back(key + " " + text(have) + " vs " + text(want));
  }
  d.sameShapeAsPaper = d.shapeDifferences.empty();
  return d;
}

ReportTable ReproduceReportData::paperVsRun() const {
  const auto& st = *bundle.stats;
  const std::string different = "not comparable: different model (" + std::to_string(shapeDifferences.size()) + " config fields differ)";
  auto compare = [&](const std::string& sameModelText) { return sameShapeAsPaper ? sameModelText : different; };
  ReportTable t{"paper_vs_run", {"quantity", "paper (as reported)", "this run", "comparison"}, {}};
  const json& cfg = bundle.scores->model.value("config", json::object());
  std::string runModel = bundle.scores->model.value("path", std::string("?")) + " (" + text(cfg.value("layers", json())) + " layers, hidden " +
                         text(cfg.value("hidden", json())) + ", " + text(cfg.value("heads", json())) + " heads / " +
                         text(cfg.value("kv_heads", json())) + " KV heads)";
  std::string shape = "same shape as Llama 3.1 8B (weights not compared)";
  if (!sameShapeAsPaper) {
    shape = "different model:";
    for (size_t i = 0; i < shapeDifferences.size(); ++i) shape += (i ? ", " : " ") + shapeDifferences[i];
  }
  t.rows.push_back({"model", "Llama 3.1 8B (32 layers, hidden 4096, 32 heads / 8 KV heads)", runModel, shape});
  t.rows.push_back({"n (layers)", std::to_string(PaperValues::kLayers), std::to_string(bundle.scores->numLayers), compare("same depth")});
  auto setRow = [&](const std::string& name, const std::vector<int>& paper, const std::vector<int>& run) {
    double inter = 0;
    for (int l : run) inter += std::count(paper.begin(), paper.end(), l) ? 1 : 0;
    const double jac = inter / double(paper.size() + run.size() - inter);
    t.rows.push_back({name, layerRanges(paper) + " (k = " + std::to_string(paper.size()) + ")",
                      layerRanges(run) + " (k = " + std::to_string(run.size()) + ")",
                      compare("Jaccard with the paper's set " + num(jac))});
  };
  setRow("task-sensitive layers S_sens", PaperValues::sensitivityLayers(), st.topSens);
  setRow("RoPE-influential layers S_rope", PaperValues::ropeLayers(), st.topRope);
  t.rows.push_back({"Spearman r_s (sensitivity vs RoPE influence)", num(PaperValues::kSpearmanR), num(st.spearmanR),
                    compare("difference " + num(st.spearmanR - PaperValues::kSpearmanR))});
  t.rows.push_back({"p (Spearman)", num(PaperValues::kSpearmanP), num(st.spearmanP) + " (permutation p " + num(st.spearmanPPerm) + ")",
                    compare(st.spearmanP < 0.05 ? "significant at 0.05, as reported" : "not significant at 0.05 (the paper's was)")});
  // Ablation: C1 (LS-LoRA + GARFA on S_sens) minus each other placement, per task.
  std::string runMargin = "no ablation";
  if (bundle.ablation) {
    double lo = results::kNaN, hi = results::kNaN;
    int wins = 0, cells = 0;
    const auto* c1 = [&]() -> const results::AblationReport::Arm* {
      for (const auto& a : bundle.ablation->arms)
        if (a.name == "C1") return &a;
      return nullptr;
    }();
    if (c1)
      for (const auto& task : bundle.ablation->tasks)
        for (const auto& a : bundle.ablation->arms) {
          if (a.name == "C1" || !a.accuracy.count(task) || !c1->accuracy.count(task)) continue;
          const double delta = 100 * (c1->accuracy.at(task) - a.accuracy.at(task));
          lo = std::isfinite(lo) ? std::min(lo, delta) : delta;
          hi = std::isfinite(hi) ? std::max(hi, delta) : delta;
          wins += delta > 0;
          ++cells;
        }
    runMargin = cells ? "C1 - other arm: " + pts(lo) + " to " + pts(hi) + " points; C1 ahead in " + std::to_string(wins) + " of " +
                            std::to_string(cells) + " (task, arm) pairs"
                      : "no C1 arm";
  }
  t.rows.push_back({"ablation: LS-LoRA + GARFA on S_sens (C1) vs the other placements",
                    "+" + num(PaperValues::kAblationMarginLowPts) + " to +" + num(PaperValues::kAblationMarginHighPts) +
                        " points (MMLU, GPQA, HumanEval+, MATH, MGSM, ARC)",
                    runMargin, compare("see the ablation table")});
  std::string code = "not run (no HumanEval(+) benchmark)";
  for (const auto& c : this->code)
    if (c.arm == "C1") code = pct(c.passAt1) + " (C1, " + std::to_string(c.passed) + "/" + std::to_string(c.problems) + ")";
  for (const auto& c : this->code)
    if (c.arm == "base") code += "; base " + pct(c.passAt1);
  t.rows.push_back({codeTask.empty() ? "HumanEval+ pass@1" : codeTask, pct(PaperValues::kHumanEvalPlusPassAt1), code,
                    compare(codeTask == "humaneval pass@1" ? "plain HumanEval here, not HumanEval+" : "greedy pass@1 both")});
  return t;
}

ReportTable ReproduceReportData::colocalization() const {
  const auto& st = *bundle.stats;
  ReportTable t{"colocalization", {"statistic", "value"}, {}};
  t.rows = {{"sensitivity profile", st.sensitivityKey},
            {"RoPE-influence profile", st.ropeKey},
            {"n (layers)", std::to_string(bundle.scores->numLayers)},
            {"Spearman r_s", num(st.spearmanR, 4)},
            {"p (t approximation)", num(st.spearmanP, 4)},
            {"permutation p", num(st.spearmanPPerm, 4)},
            {"bootstrap 95% interval of r_s", "[" + num(st.spearmanCiLow) + ", " + num(st.spearmanCiHigh) + "]"},
            {"Kendall tau (p)", num(st.kendallTau) + " (" + num(st.kendallP) + ")"},
            {"Jaccard(S_sens, S_rope)", num(st.jaccard)},
            {"centre of mass: sensitivity, RoPE (layer)", num(st.centreOfMassSens) + ", " + num(st.centreOfMassRope)},
            {"verdict", st.verdictText.empty() ? st.verdict : st.verdictText}};
  return t;
}

ReportTable ReproduceReportData::topK() const {
  const auto& st = *bundle.stats;
  ReportTable t{"top_k", {"set", "k", "layers (this run)", "paper (as reported, 32 layers)"}, {}};
  t.rows.push_back({"S_sens (task-sensitive)", std::to_string(st.topSens.size()), layerRanges(st.topSens), "23-31"});
  t.rows.push_back({"S_rope (RoPE-influential)", std::to_string(st.topRope.size()), layerRanges(st.topRope), "0-9"});
  std::vector<int> both;
  for (int l : st.topSens)
    if (std::count(st.topRope.begin(), st.topRope.end(), l)) both.push_back(l);
  t.rows.push_back({"S_sens and S_rope", std::to_string(both.size()), layerRanges(both), "none"});
  return t;
}

ReportTable ReproduceReportData::ablation() const {
  ReportTable t{"ablation", {"task", "base"}, {}};
  if (!bundle.ablation) return t;
  const auto& ab = *bundle.ablation;
  for (const auto& a : ab.arms) t.header.push_back(a.name);
  t.header.push_back("C1 - best other arm (points)");
  for (const auto& task : ab.tasks) {
    std::vector<std::string> row = {task};
    auto b = ab.baseAccuracy.find(task);
    row.push_back(b == ab.baseAccuracy.end() ? "n/a" : pct(b->second));
    double c1 = results::kNaN, best = results::kNaN;
    for (const auto& a : ab.arms) {
      auto it = a.accuracy.find(task);
      if (it == a.accuracy.end()) {
        row.push_back("n/a");
        continue;
      }
      std::string cell = pct(it->second);
      if (b != ab.baseAccuracy.end()) cell += " (" + pts(100 * (it->second - b->second)) + ")";
      row.push_back(cell);
      if (a.name == "C1") c1 = it->second;
      else best = std::isfinite(best) ? std::max(best, it->second) : it->second;
    }
    row.push_back(pts(100 * (c1 - best)));
    t.rows.push_back(row);
  }
  return t;
}

ReportTable ReproduceReportData::humaneval() const {
  ReportTable t{"humaneval", {"arm", "pass@1", "passed", "problems", "runs", "seconds"}, {}};
  for (const auto& c : code)
    t.rows.push_back({c.arm, pct(c.passAt1), std::to_string(c.passed), std::to_string(c.problems), std::to_string(c.runs), num(c.seconds)});
  return t;
}

ReportTable ReproduceReportData::provenance() const {
  ReportTable t{"provenance", {"item", "value"}, {}};
  const auto& sc = *bundle.scores;
  t.rows.push_back({"LayerScope version", text(summary.value("layerscope_version", json()))});
  t.rows.push_back({"results folder", fs::absolute(dir).string()});
  t.rows.push_back({"model", text(sc.model.value("path", json()))});
  t.rows.push_back({"model fingerprint", text(sc.model.value("fingerprint", json()))});
  t.rows.push_back({"model config", sc.model.value("config", json::object()).dump()});
  t.rows.push_back({"dtype", text(sc.model.value("dtype", json()))});
  t.rows.push_back({"pair file (sensitivity task)", text(sc.task.value("path", json()))});
  t.rows.push_back({"pair file fingerprint", text(sc.task.value("fingerprint", json()))});
  for (const auto& b : summary.value("benchmarks", json::array()))
    t.rows.push_back({"benchmark " + text(b.value("name", json())), b["file"].is_null() ? "missing" : text(b["file"]) + " (" + text(b.value("layout", json())) + ")"});
  const json opts = summary.value("options", json::object());
  for (const auto& [k, v] : opts.items()) t.rows.push_back({"option " + k, text(v)});
  for (const auto& [k, v] : sc.options.items()) t.rows.push_back({"analysis option " + k, text(v)});
  const json machine = summary.value("machine", json::object());
  for (const auto& [k, v] : machine.items()) t.rows.push_back({"machine " + k, text(v)});
  const json times = summary.value("timings_seconds", json::object());
  for (const auto& [k, v] : times.items()) t.rows.push_back({"time " + k + " (s)", text(v)});
  for (const auto& [k, v] : sc.timingsSeconds) t.rows.push_back({"analysis time " + k + " (s)", num(v)});
  if (bundle.ablation)
    for (const auto& a : bundle.ablation->arms) t.rows.push_back({"ablation arm " + a.name + " training (s)", num(a.wallSeconds)});
  for (const auto& c : code) t.rows.push_back({"HumanEval " + c.arm + " (s)", num(c.seconds)});
  t.rows.push_back({"analysis created (UTC)", sc.createdUtc});
  return t;
}

json ReproduceReportData::toJson() const {
  json j = {{"format", "layerscope.reproduce_report/1"}, {"summary", summary}, {"same_shape_as_paper", sameShapeAsPaper},
            {"shape_differences", shapeDifferences}};
  j["paper_as_reported"] = {{"model", "Llama 3.1 8B"}, {"n_layers", PaperValues::kLayers}, {"spearman_r", PaperValues::kSpearmanR},
                            {"spearman_p", PaperValues::kSpearmanP}, {"S_sens", PaperValues::sensitivityLayers()},
                            {"S_rope", PaperValues::ropeLayers()}, {"humaneval_plus_pass_at_1", PaperValues::kHumanEvalPlusPassAt1},
                            {"ablation_margin_points", {PaperValues::kAblationMarginLowPts, PaperValues::kAblationMarginHighPts}},
                            {"source", "arXiv 2604.07766, abstract"}};
  json code = json::array();
  for (const auto& c : this->code)
    code.push_back({{"arm", c.arm}, {"pass_at_1", c.passAt1}, {"passed", c.passed}, {"problems", c.problems}, {"runs", c.runs}, {"seconds", c.seconds}});
  j["humaneval"] = code;
  json tables = json::object();
  for (const ReportTable& t : {paperVsRun(), colocalization(), topK(), ablation(), humaneval(), provenance()})
    tables[t.name] = {{"header", t.header}, {"rows", t.rows}};
  j["tables"] = tables;
  return j;
}

}  // namespace layerscope::views
