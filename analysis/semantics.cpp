// Semantics names and which analyses each defines (see semantics.h).
#include "analysis/semantics.h"

#include "core/base/error.h"

namespace layerscope::analysis {

std::string semanticsName(Semantics s) {
  switch (s) {
    case Semantics::LayerScope: return "layerscope";
    case Semantics::LlmDrop: return "llm-drop";
    case Semantics::ShortGpt: return "shortgpt";
    case Semantics::Afcl: return "afcl";
  }
  return "layerscope";
}

std::vector<Semantics> allSemantics() {
  return {Semantics::LayerScope, Semantics::LlmDrop, Semantics::ShortGpt, Semantics::Afcl};
}

Semantics parseSemantics(std::string_view name) {
  for (auto s : allSemantics())
    if (semanticsName(s) == name) return s;
  throw InvalidArgument("unknown semantics '" + std::string(name) + "' (expected layerscope, llm-drop, shortgpt or afcl)");
}

bool semanticsDefines(Semantics s, std::string_view analysis) {
  switch (s) {
    case Semantics::LayerScope: return true;
    case Semantics::LlmDrop:
    case Semantics::ShortGpt: return analysis == "redundancy" || analysis == "drop";
    case Semantics::Afcl: return analysis == "manipulation";
  }
  return false;
}

Semantics semanticsFor(std::string_view requested, std::string_view analysis) {
  const Semantics s = parseSemantics(requested);
  return semanticsDefines(s, analysis) ? s : Semantics::LayerScope;
}

}  // namespace layerscope::analysis
