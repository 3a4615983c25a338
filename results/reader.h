// Reads a results directory (docs/results-format.md) into results.h value types. Every error names the file
// and the key, says what was expected and what was found. Header-only, nlohmann_json only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "results/results.h"

namespace layerscope::results {
namespace detail {

using nlohmann::json;

inline std::string describe(const json& v) { return std::string(v.type_name()); }

inline json readJsonFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ResultsError("cannot open '" + file.string() + "': the file is missing or unreadable");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // parse_error, or out_of_range.406 for a number like 1e400
    throw ResultsError("'" + file.string() + "' is not valid JSON (" + e.what() +
                       "); hint: results are written atomically, so the file was edited or truncated by hand");
  }
}

/// Context for messages: the file and the key path inside it.
struct Where {
  const std::filesystem::path& file;
  std::string key;
  std::string str() const {  // appended piece by piece: "'" + string&& trips GCC 12's -Wstringop-overflow (PR 105329)
    std::string s(1, '\'');
    s += file.string();
    s += "', key '";
    s += key;
    s += '\'';
    return s;
  }
  Where operator/(const std::string& sub) const { return {file, key.empty() ? sub : key + "." + sub}; }
};

inline double toDouble(const json& v, const Where& w) {
  if (v.is_null()) return kNaN;  // NaN is written as null
  if (!v.is_number()) throw ResultsError(w.str() + ": expected a number, found " + describe(v));
  return v.get<double>();
}

inline std::vector<double> toDoubles(const json& v, const Where& w) {
  if (!v.is_array()) throw ResultsError(w.str() + ": expected an array of numbers, found " + describe(v));
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(toDouble(v[i], w / std::to_string(i)));
  return out;
}

/// An integer that fits in an int (a larger one is an error, never silently truncated).
inline int toInt(const json& v, const Where& w) {
  if (!v.is_number_integer()) throw ResultsError(w.str() + ": expected an integer, found " + describe(v));
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<int>::max())
                                           : v.get<int64_t>() >= std::numeric_limits<int>::min() &&
                                                 v.get<int64_t>() <= std::numeric_limits<int>::max();
  if (!fits) throw ResultsError(w.str() + ": integer " + v.dump() + " is out of range");
  return int(v.get<int64_t>());
}

inline std::string toString(const json& v, const Where& w) {
  if (!v.is_string()) throw ResultsError(w.str() + ": expected a string, found " + describe(v));
  return v.get<std::string>();
}

inline const json& requireArray(const json& v, const Where& w) {
  if (!v.is_array()) throw ResultsError(w.str() + ": expected an array, found " + describe(v));
  return v;
}

inline const json& requireObject(const json& v, const Where& w) {
  if (!v.is_object()) throw ResultsError(w.str() + ": expected an object, found " + describe(v));
  return v;
}

inline std::vector<int> toInts(const json& v, const Where& w) {
  if (!v.is_array()) throw ResultsError(w.str() + ": expected an array of integers, found " + describe(v));
  std::vector<int> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(toInt(v[i], w / std::to_string(i)));
  return out;
}

inline const json& require(const json& j, const std::string& key, const Where& w) {
  if (!j.is_object()) throw ResultsError(w.str() + ": expected an object, found " + describe(j));
  auto it = j.find(key);
  if (it == j.end()) throw ResultsError((w / key).str() + ": missing");
  return *it;
}

inline double numberOr(const json& j, const std::string& key, const Where& w) {
  auto it = j.find(key);
  return it == j.end() ? kNaN : toDouble(*it, w / key);
}

inline void checkFormat(const json& j, const std::string& expected, const std::filesystem::path& file) {
  const json& f = require(j, "format", {file, ""});
  const std::string got = f.is_string() ? f.get<std::string>() : describe(f);
  // Same family, any version 1: a newer minor revision only adds keys.
  if (got != expected)
    throw ResultsError("'" + file.string() + "', key 'format': expected '" + expected + "', found '" + got +
                       "'; hint: this file was written by a different LayerScope tool or version");
}

inline std::map<std::string, double> toDoubleMap(const json& v, const Where& w) {
  std::map<std::string, double> out;
  if (!v.is_object()) throw ResultsError(w.str() + ": expected an object of numbers, found " + describe(v));
  for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = toDouble(it.value(), w / it.key());
  return out;
}

}  // namespace detail

/// Reads scores.json. Every layer score must have num_layers entries, every per-head matrix L x G.
inline Scores readScores(const std::filesystem::path& file) {
  using namespace detail;
  const json j = readJsonFile(file);
  checkFormat(j, "layerscope.scores/1", file);
  const Where root{file, ""};
  Scores s;
  const json& nl = require(j, "num_layers", root);
  if (!nl.is_number_integer() || toInt(nl, root / "num_layers") <= 0)
    throw ResultsError((root / "num_layers").str() + ": expected a positive integer, found " + nl.dump());
  s.numLayers = nl.get<int>();
  if (auto it = j.find("num_kv_heads"); it != j.end() && it->is_number_integer()) s.numKvHeads = toInt(*it, root / "num_kv_heads");
  const json& ls = require(j, "layer_scores", root);
  if (!ls.is_object()) throw ResultsError((root / "layer_scores").str() + ": expected an object");
  for (auto it = ls.begin(); it != ls.end(); ++it) {
    const Where w = root / "layer_scores" / it.key();
    auto v = toDoubles(it.value(), w);
    if (int(v.size()) != s.numLayers)
      throw ResultsError(w.str() + ": expected " + std::to_string(s.numLayers) + " values (num_layers), found " +
                         std::to_string(v.size()));
    s.layerScores[it.key()] = std::move(v);
  }
  if (auto hs = j.find("layer_head_scores"); hs != j.end() && hs->is_object()) {
    for (auto it = hs->begin(); it != hs->end(); ++it) {
      const Where w = root / "layer_head_scores" / it.key();
      if (!it.value().is_array() || int(it.value().size()) != s.numLayers)
        throw ResultsError(w.str() + ": expected " + std::to_string(s.numLayers) + " rows (one per layer)");
      HeadMatrix m;
      for (size_t l = 0; l < it.value().size(); ++l) {
        m.values.push_back(toDoubles(it.value()[l], w / std::to_string(l)));
        if (m.values.back().size() != m.values.front().size() || m.values.back().empty())
          throw ResultsError((w / std::to_string(l)).str() + ": rows must have the same, non-zero length");
      }
      s.layerHeadScores[it.key()] = std::move(m);
    }
  }
  if (auto it = j.find("model"); it != j.end()) s.model = *it;
  if (auto it = j.find("task"); it != j.end()) s.task = *it;
  if (auto it = j.find("options"); it != j.end()) s.options = *it;
  if (auto it = j.find("created_utc"); it != j.end() && it->is_string()) s.createdUtc = it->get<std::string>();
  if (auto it = j.find("timings_seconds"); it != j.end()) s.timingsSeconds = toDoubleMap(*it, root / "timings_seconds");
  return s;
}

/// Reads stats.json.
inline Stats readStats(const std::filesystem::path& file) {
  using namespace detail;
  const json j = readJsonFile(file);
  checkFormat(j, "layerscope.stats/1", file);
  const Where root{file, ""};
  Stats s;
  if (auto p = j.find("profiles"); p != j.end()) {
    if (p->contains("sensitivity")) s.sensitivityKey = toString((*p)["sensitivity"], root / "profiles" / "sensitivity");
    if (p->contains("rope")) s.ropeKey = toString((*p)["rope"], root / "profiles" / "rope");
  }
  s.spearmanR = numberOr(j, "stats.spearman.r", root);
  s.spearmanP = numberOr(j, "stats.spearman.p", root);
  s.spearmanPPerm = numberOr(j, "stats.spearman.p_perm", root);
  s.spearmanCiLow = numberOr(j, "stats.spearman.ci_low", root);
  s.spearmanCiHigh = numberOr(j, "stats.spearman.ci_high", root);
  s.kendallTau = numberOr(j, "stats.kendall.tau", root);
  s.kendallP = numberOr(j, "stats.kendall.p", root);
  s.jaccard = numberOr(j, "jaccard", root);
  if (auto t = j.find("top_k"); t != j.end()) {
    const Where w = root / "top_k";
    if (t->contains("k_sens")) s.kSens = toInt((*t)["k_sens"], w / "k_sens");
    if (t->contains("k_rope")) s.kRope = toInt((*t)["k_rope"], w / "k_rope");
    if (t->contains("S_sens")) s.topSens = toInts((*t)["S_sens"], w / "S_sens");
    if (t->contains("S_rope")) s.topRope = toInts((*t)["S_rope"], w / "S_rope");
  }
  if (auto c = j.find("centre_of_mass"); c != j.end()) {
    s.centreOfMassSens = numberOr(*c, "sensitivity", root / "centre_of_mass");
    s.centreOfMassRope = numberOr(*c, "rope", root / "centre_of_mass");
  }
  if (auto v = j.find("verdict"); v != j.end() && v->is_string()) s.verdict = v->get<std::string>();
  if (auto v = j.find("verdict_text"); v != j.end() && v->is_string()) s.verdictText = v->get<std::string>();
  return s;
}

/// Reads layers.csv (header `layer,<keys...>`, one row per layer; empty or "nan" cells are NaN).
inline LayerTable readLayersCsv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw ResultsError("cannot open '" + file.string() + "'");
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
  };
  std::string line;
  if (!std::getline(in, line)) throw ResultsError("'" + file.string() + "' is empty; expected a header line");
  auto header = split(line);
  if (header.empty() || header[0] != "layer")
    throw ResultsError("'" + file.string() + "', line 1: expected the header to start with 'layer', found '" +
                       line.substr(0, 40) + "'");
  LayerTable t;
  t.columns.assign(header.begin() + 1, header.end());
  int lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty()) continue;
    auto cells = split(line);
    if (cells.size() != header.size())
      throw ResultsError("'" + file.string() + "', line " + std::to_string(lineNo) + ": expected " +
                         std::to_string(header.size()) + " cells, found " + std::to_string(cells.size()));
    if (cells[0] != std::to_string(t.rows.size()))
      throw ResultsError("'" + file.string() + "', line " + std::to_string(lineNo) + ": expected layer " +
                         std::to_string(t.rows.size()) + ", found '" + cells[0] + "'");
    std::vector<double> row;
    for (size_t c = 1; c < cells.size(); ++c) {
      try {
        row.push_back(cells[c].empty() ? kNaN : std::stod(cells[c]));
      } catch (const std::exception&) {
        throw ResultsError("'" + file.string() + "', line " + std::to_string(lineNo) + ", column '" + header[c] +
                           "': expected a number, found '" + cells[c] + "'");
      }
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

/// Reads manipulation.json, either one mode ("mode" + "accuracy") or several ("curves").
inline ManipulationCurves readManipulation(const std::filesystem::path& file) {
  using namespace detail;
  const json j = readJsonFile(file);
  checkFormat(j, "layerscope.manipulation/1", file);
  const Where root{file, ""};
  ManipulationCurves m;
  m.k = toInts(require(j, "k", root), root / "k");
  m.baseAccuracy = numberOr(j, "base_accuracy", root);
  if (auto it = j.find("options"); it != j.end()) m.options = *it;
  if (auto c = j.find("curves"); c != j.end()) {
    for (auto it = requireObject(*c, root / "curves").begin(); it != c->end(); ++it) m.accuracy[it.key()] = toDoubles(it.value(), root / "curves" / it.key());
  } else {
    const json& mode = require(j, "mode", root);
    m.accuracy[toString(mode, root / "mode")] = toDoubles(require(j, "accuracy", root), root / "accuracy");
  }
  for (const auto& [mode, acc] : m.accuracy)
    if (acc.size() != m.k.size())
      throw ResultsError("'" + file.string() + "': curve '" + mode + "' has " + std::to_string(acc.size()) +
                         " values but 'k' has " + std::to_string(m.k.size()));
  return m;
}

/// Reads drop.json.
inline DropPlan readDrop(const std::filesystem::path& file) {
  using namespace detail;
  const json j = readJsonFile(file);
  checkFormat(j, "layerscope.drop/1", file);
  const Where root{file, ""};
  DropPlan d;
  if (auto it = j.find("plan"); it != j.end() && it->is_string()) d.plan = it->get<std::string>();
  if (auto it = j.find("n"); it != j.end() && it->is_number_integer()) d.n = toInt(*it, root / "n");
  const json& dropped = requireArray(require(j, "dropped", root), root / "dropped");
  for (size_t i = 0; i < dropped.size(); ++i) {
    const Where w = root / "dropped" / std::to_string(i);
    const json& e = dropped[i];
    const json& layer = require(e, "layer", w);
    const json& module = require(e, "module", w);
    if (!layer.is_number_integer() || !module.is_string() || (module != "attn" && module != "mlp"))
      throw ResultsError(w.str() + ": expected {\"layer\": int, \"module\": \"attn\"|\"mlp\"}, found " + e.dump());
    d.dropped.push_back({toInt(layer, w / "layer"), module.get<std::string>()});
  }
  if (auto s = j.find("similarity"); s != j.end())
    for (auto it = requireObject(*s, root / "similarity").begin(); it != s->end(); ++it)
      d.similarity[it.key()] = toDoubles(it.value(), root / "similarity" / it.key());
  d.accuracy = numberOr(j, "accuracy", root);
  d.baseAccuracy = numberOr(j, "base_accuracy", root);
  d.speedup = numberOr(j, "speedup", root);
  if (auto it = j.find("options"); it != j.end()) d.options = *it;
  return d;
}

/// Reads report.json of an ablation.
inline AblationReport readAblation(const std::filesystem::path& file) {
  using namespace detail;
  const json j = readJsonFile(file);
  checkFormat(j, "layerscope.ablation/1", file);
  const Where root{file, ""};
  AblationReport r;
  const json& arms = requireArray(require(j, "arms", root), root / "arms");
  for (size_t i = 0; i < arms.size(); ++i) {
    const Where w = root / "arms" / std::to_string(i);
    AblationReport::Arm a;
    a.name = toString(require(arms[i], "name", w), w / "name");
    if (arms[i].contains("lora_layers")) a.loraLayers = toInts(arms[i]["lora_layers"], w / "lora_layers");
    if (arms[i].contains("garfa_layers")) a.garfaLayers = toInts(arms[i]["garfa_layers"], w / "garfa_layers");
    if (arms[i].contains("trainable_parameters")) {
      const json& n = arms[i]["trainable_parameters"];
      if (!n.is_number_integer() || (n.is_number_unsigned() ? n.get<uint64_t>() > uint64_t(INT64_MAX) : n.get<int64_t>() < 0))
        throw ResultsError((w / "trainable_parameters").str() + ": expected a non-negative integer, found " + n.dump());
      a.trainableParameters = n.get<long long>();
    }
    a.wallSeconds = numberOr(arms[i], "wall_seconds", w);
    a.accuracy = toDoubleMap(require(arms[i], "accuracy", w), w / "accuracy");
    if (arms[i].contains("runs")) {
      const json& runs = requireArray(arms[i]["runs"], w / "runs");
      for (size_t k = 0; k < runs.size(); ++k) {
        const Where rw = w / "runs" / std::to_string(k);
        for (const auto& [task, acc] : toDoubleMap(require(runs[k], "accuracy", rw), rw / "accuracy"))
          a.runAccuracy[task].push_back(acc);
      }
    }
    r.arms.push_back(std::move(a));
  }
  if (auto b = j.find("base"); b != j.end() && b->contains("accuracy"))
    r.baseAccuracy = toDoubleMap((*b)["accuracy"], root / "base" / "accuracy");
  if (auto t = j.find("tasks"); t != j.end())
    for (size_t i = 0; i < requireArray(*t, root / "tasks").size(); ++i)
      r.tasks.push_back(toString((*t)[i], root / "tasks" / std::to_string(i)));
  if (r.tasks.empty())
    for (const auto& a : r.arms)
      for (const auto& [task, acc] : a.accuracy)
        if (std::find(r.tasks.begin(), r.tasks.end(), task) == r.tasks.end()) r.tasks.push_back(task);
  return r;
}

/// Reads every known file present in `dir`. Throws when `dir` is not a directory or holds none of them.
inline ResultsBundle readResultsDir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir))
    throw ResultsError("'" + dir.string() + "' is not a directory; expected a results directory written by "
                       "layerscope-cli analyze / manipulate / drop / ablate");
  ResultsBundle b;
  b.dir = dir;
  if (fs::exists(dir / "scores.json")) b.scores = readScores(dir / "scores.json");
  if (fs::exists(dir / "stats.json")) b.stats = readStats(dir / "stats.json");
  if (fs::exists(dir / "layers.csv")) b.layers = readLayersCsv(dir / "layers.csv");
  if (fs::exists(dir / "manipulation.json")) b.manipulation = readManipulation(dir / "manipulation.json");
  if (fs::exists(dir / "drop.json")) b.drop = readDrop(dir / "drop.json");
  if (fs::exists(dir / "report.json")) b.ablation = readAblation(dir / "report.json");
  if (!b.scores && !b.stats && !b.layers && !b.manipulation && !b.drop && !b.ablation)
    throw ResultsError("'" + dir.string() + "' holds no results: expected scores.json, stats.json, layers.csv, "
                       "manipulation.json, drop.json or report.json (docs/results-format.md)");
  if (b.scores && b.layers && int(b.layers->rows.size()) != b.scores->numLayers)
    throw ResultsError("'" + (dir / "layers.csv").string() + "' has " + std::to_string(b.layers->rows.size()) +
                       " layers but scores.json says num_layers = " + std::to_string(b.scores->numLayers));
  // Several results directories may be merged by the GUI (analyze + manipulate + drop); mergeInto does that.
  return b;
}

/// Adds the parts of `other` that `into` lacks (the GUI shows analyze, manipulate and drop outputs together).
inline void mergeInto(ResultsBundle& into, const ResultsBundle& other) {
  if (!into.scores && other.scores) into.scores = other.scores;
  if (!into.stats && other.stats) into.stats = other.stats;
  if (!into.layers && other.layers) into.layers = other.layers;
  if (other.manipulation) {
    if (!into.manipulation) into.manipulation = other.manipulation;
    else for (const auto& [mode, acc] : other.manipulation->accuracy) into.manipulation->accuracy[mode] = acc;
  }
  if (!into.drop && other.drop) into.drop = other.drop;
  if (!into.ablation && other.ablation) into.ablation = other.ablation;
}

}  // namespace layerscope::results
