// The non-finite-state refusal shared by the analyses (see finite_states.h).
#include "analysis/finite_states.h"

#include "core/base/error.h"
#include "core/model/names.h"

namespace layerscope::analysis {

void requireFiniteLayers(const torch::Tensor& finite, const std::string& what) {
  const torch::Tensor ok = finite.to(torch::kCPU).to(torch::kBool).contiguous();
  const auto* p = ok.data_ptr<bool>();
  for (int64_t l = 0; l < ok.numel(); ++l)
    if (!p[l])
      throw Error(what + ": the hidden states of layer " + std::to_string(l) +
                  " contain NaN or inf; no scores are computed from non-finite states (check the model's weights, "
                  "or use --dtype float32 if bfloat16 overflows)");
}

void checkFiniteStates(const core::LlamaModel& model, const core::PreparedTask& task) {
  if (task.items.empty()) return;
  const auto& item = task.items.front();
  std::vector<int64_t> ids(item.prompt.begin(), item.prompt.end());
  if (!item.continuations.empty()) {
    const auto& c = item.continuations[std::min(item.gold, item.continuations.size() - 1)];
    ids.insert(ids.end(), c.begin(), c.end());
  }
  if (ids.empty()) return;
  const int L = model.config().numLayers;
  core::TensorCapture cap;
  cap.requestAllLayers(core::Site::ResidPost, L);
  {
    c10::InferenceMode guard;
    core::ForwardInput in;
    in.inputIds = torch::tensor(ids, torch::kInt64).unsqueeze(0);
    core::ForwardOptions fo;
    fo.computeLogits = false;
    model.forward(in, nullptr, &cap, fo);
  }
  std::vector<bool> finite(size_t(L), true);
  for (int l = 0; l < L; ++l) finite[size_t(l)] = torch::isfinite(cap.get(l, core::Site::ResidPost)).all().item<bool>();
  for (int l = 0; l < L; ++l) {
    if (finite[size_t(l)]) continue;
    std::string weight;  // the first non-finite weight of that layer, if the cause is in the file
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    for (const auto& [name, t] : model.namedWeights())
      if ((name.rfind(prefix, 0) == 0 || (l == 0 && name == core::kHfEmbed)) && !torch::isfinite(t).all().item<bool>()) {
        weight = name;
        break;
      }
    throw Error("item '" + item.id + "': the hidden states after layer " + std::to_string(l) +
                " contain NaN or inf" + (weight.empty() ? "" : " (tensor '" + weight + "' holds NaN or inf values)") +
                "; the analyses refuse to compute scores from non-finite states");
  }
}

}  // namespace layerscope::analysis
