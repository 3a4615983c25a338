// Extra per-layer profiles (logit lens, ...) that the pipeline runs after the built-in analyses. A profile is one
// .cpp file defining a factory `ProfileSpec xxxProfile()` plus one line `layerscope_register_profile(file.cpp
// xxxProfile)` in analysis/CMakeLists.txt, which generates the registry that calls every factory (no static
// self-registration, which a static library would drop). Torch-free header: the inputs are forward declared.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "analysis/statistics.h"
#include "core/base/job_control.h"

namespace layerscope::analysis {

struct ModelTaskInputs;  // analysis/layer_analyses.h

/// The request settings every profile may read (the rest of AnalyzeRequest belongs to the built-in analyses).
struct ProfileOptions {
  int batchSize = 8;                  ///< sequences per forward pass
  std::uint64_t seed = kDefaultSeed;  ///< for a profile that draws random numbers
};

/// What a profile returns.
struct ProfileResult {
  /// scores.json "layer_scores" entries (and layers.csv columns): key -> [L]. Keys are "<name>.<quantity>" and
  /// must be exactly the ProfileSpec's `keys`.
  std::map<std::string, std::vector<double>> layerScores;
  /// Optional per-item values [N task items, L] whose column means are the layer score of the same key. A key
  /// listed here gets a bootstrap interval of r_s when it is one side of the co-localization pair.
  std::map<std::string, Eigen::MatrixXd> itemScores;
  /// scores.json "<name>_info": what produced the scores (position, counts, forward passes, conventions).
  nlohmann::json info = nlohmann::json::object();
};

/// Runs the profile on the loaded model and task (with its base evaluation); Cancelled through `job`, checked at
/// least between batches.
using ProfileRun = std::function<ProfileResult(const ModelTaskInputs& in, const ProfileOptions& options,
                                               const core::JobControl* job)>;

/// One registered per-layer profile analysis.
struct ProfileSpec {
  std::string name;               ///< CLI (--profiles) and JSON name, lower_snake_case, e.g. "logit_lens"
  std::string summary;            ///< one line for usage text and docs
  bool byDefault = false;         ///< run when the request does not name its profiles
  double weight = 1;              ///< progress weight in forward passes over the task (sensitivity is 1.5)
  std::vector<std::string> keys;  ///< the layer_scores keys it writes (known before running, for validation)
  ProfileRun run;
};

/// Every registered profile, in registration order (analysis/CMakeLists.txt).
const std::vector<ProfileSpec>& registeredProfiles();
/// The profile called `name`, or nullptr.
const ProfileSpec* findProfile(std::string_view name);
/// Names of every registered profile, in registration order.
std::vector<std::string> registeredProfileNames();
/// Names of the profiles registered with byDefault (AnalyzeRequest's default selection).
std::vector<std::string> defaultProfileNames();

}  // namespace layerscope::analysis
