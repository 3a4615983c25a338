// Which definition the redundancy, drop-plan and manipulation analyses follow (docs/analyses.md "LayerScope
// definition vs each paper's code"): the names the CLI's --semantics and the GUI's Definition list offer, and the
// rule for which analyses each defines. Torch-free, so option parsers and the GUI can name them; the rules
// themselves are in analysis/paper_semantics.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace layerscope::analysis {

enum class Semantics {
  LayerScope,  ///< LayerScope's own definitions (docs/methods.md), the default
  LlmDrop,     ///< CASE-Lab-UMD/LLM-Drop: redundancy and drop plans
  ShortGpt,    ///< icip-cas/ShortGPT: Block Influence and block removal
  Afcl,        ///< schwartz-lab-NLP/Attend-First-Consolidate-Later: manipulations
};
/// "layerscope", "llm-drop", "shortgpt", "afcl".
std::string semanticsName(Semantics s);
Semantics parseSemantics(std::string_view name);
std::vector<Semantics> allSemantics();
/// Which analyses a semantics defines: "redundancy", "drop" or "manipulation" (layerscope defines all three).
bool semanticsDefines(Semantics s, std::string_view analysis);
/// The semantics one analysis runs with for a requested name: the requested one where it defines that analysis,
/// else layerscope (`--semantics shortgpt` leaves the manipulations LayerScope's). The single place of that rule.
Semantics semanticsFor(std::string_view requested, std::string_view analysis);

}  // namespace layerscope::analysis
