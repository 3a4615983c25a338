#include "core/model/eval_parts.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/base/error.h"

namespace layerscope::core {
namespace {

using nlohmann::json;

json itemToJson(const ItemResult& it) {
  return {{"id", it.id},           {"prediction", it.prediction}, {"gold", it.gold},
          {"correct", it.correct}, {"correct_norm", it.correctNorm}, {"predicted", it.predicted},
          {"predicted_norm", it.predictedNorm}, {"loglik", it.loglik}, {"generated", it.generated}};
}

ItemResult itemFromJson(const json& j) {
  ItemResult it;
  it.id = j.at("id").get<std::string>();
  it.prediction = j.at("prediction").get<std::string>();
  it.gold = j.at("gold").get<std::string>();
  it.correct = j.at("correct").get<bool>();
  it.correctNorm = j.at("correct_norm").get<bool>();
  it.predicted = j.at("predicted").get<int>();
  it.predictedNorm = j.at("predicted_norm").get<int>();
  it.loglik = j.at("loglik").get<std::vector<double>>();
  it.generated = j.at("generated").get<std::string>();
  return it;
}

}  // namespace

std::string evalPartsText(const std::vector<EvalResult>& parts) {
  json variants = json::array();
  for (const auto& p : parts) {
    json items = json::array();
    for (const auto& it : p.items) items.push_back(itemToJson(it));
    variants.push_back({{"items", std::move(items)}, {"forward_passes", p.forwardPasses}, {"seconds", p.seconds}});
  }
  return variants.dump();
}

std::vector<EvalResult> joinEvalParts(const std::vector<std::string>& texts, const EvalResult& like, int variants,
                                      std::size_t items) {
  std::vector<EvalResult> all(static_cast<std::size_t>(variants));
  for (auto& r : all) {
    r.kind = like.kind;
    r.options = like.options;
    r.sharedPrompt = like.sharedPrompt;
  }
  for (const auto& text : texts) {
    const json parts = json::parse(text);
    if (!parts.is_array() || parts.size() != all.size())
      throw Error("data-parallel evaluation: a process sent " + std::to_string(parts.is_array() ? parts.size() : 0) +
                  " variants, expected " + std::to_string(all.size()));
    for (std::size_t v = 0; v < all.size(); ++v) {
      for (const auto& it : parts[v].at("items")) all[v].items.push_back(itemFromJson(it));
      all[v].forwardPasses += parts[v].at("forward_passes").get<std::size_t>();
      all[v].seconds = std::max(all[v].seconds, parts[v].at("seconds").get<double>());
    }
  }
  for (auto& r : all) {
    if (r.items.size() != items)
      throw Error("data-parallel evaluation: gathered " + std::to_string(r.items.size()) + " item results for " +
                  std::to_string(items) + " items (were the processes started on the same task?)");
    std::size_t nc = 0, nn = 0;  // as core::evaluateVariants counts them
    for (const auto& it : r.items) nc += it.correct, nn += it.correctNorm;
    r.correct = nc;
    r.accuracy = items ? double(nc) / double(items) : 0.0;
    r.accuracyNorm = items ? double(nn) / double(items) : 0.0;
  }
  return all;
}

}  // namespace layerscope::core
