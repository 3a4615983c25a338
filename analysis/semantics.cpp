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
  const std::vector<Semantics> all = allSemantics();
  std::string expected;
  for (size_t i = 0; i < all.size(); ++i) {
    if (semanticsName(all[i]) == name) return all[i];
    expected += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + semanticsName(all[i]);
  }
  throw InvalidArgument("unknown semantics '" + std::string(name) + "' (expected " + expected + ")");
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
