// The independent statistics reference shared by the analysis tests: tests/reference/stats/stats_reference.json,
// written by make_stats_reference.py (scipy / numpy), read once, and JSON -> Eigen conversions.
#pragma once

#include <fstream>
#include <stdexcept>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

namespace layerscope::test {

inline const nlohmann::json& statsReference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(LAYERSCOPE_STATS_REFERENCE);
    if (!in) throw std::runtime_error("cannot open " LAYERSCOPE_STATS_REFERENCE);
    return nlohmann::json::parse(in);
  }();
  return ref;
}

inline Eigen::VectorXd jsonVector(const nlohmann::json& j) {
  const auto v = j.get<std::vector<double>>();
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

inline Eigen::MatrixXd jsonMatrix(const nlohmann::json& j) {
  const auto rows = j.get<std::vector<std::vector<double>>>();
  Eigen::MatrixXd m(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.front().size()));
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < rows[r].size(); ++c) m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = rows[r][c];
  return m;
}

}  // namespace layerscope::test
