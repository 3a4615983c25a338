// Names of layer_scores keys for the views and the GUI: which keys are profiles (every key except bootstrap
// interval bounds), the order they are listed in and readable labels derived from the key alone, so a new
// per-layer profile (analysis/profile_registry.h) appears in every view, combo and table without view code.
#pragma once

#include <QString>
#include <string>
#include <string_view>
#include <vector>

#include "results/results.h"

namespace layerscope::views {

/// "<key>.ci_low" / "<key>.ci_high": the bounds of a bootstrap interval (drawn as a band, never as a profile).
bool isIntervalKey(std::string_view key);
/// The group of a key: the part before its first '.' ("logit_lens" for "logit_lens.accuracy").
QString keyGroup(const QString& key);
/// Every profile key of `scores` (interval bounds left out): sensitivity.*, rope_influence.*, redundancy.*, then
/// the other groups in alphabetical order; keys sorted within a group.
std::vector<std::string> profileKeys(const results::Scores& scores);
/// A readable name from the key alone: "logit_lens.gold_logprob" -> "logit lens: gold logprob",
/// "rope_influence.gradient" -> "RoPE influence: gradient".
QString readableKey(const QString& key);
/// The series / axis label of the profile and correlation views: "sensitivity (rel_l2)" and
/// "RoPE influence (gradient)" for the built-in profiles, readableKey() for every other key.
QString seriesLabel(const QString& key);
/// The short name of a co-localization side for legends ("top-5 <name> layers"): "sensitivity" and "RoPE" for
/// the built-in profiles, readableKey() otherwise.
QString sideName(const QString& key);

}  // namespace layerscope::views
