// The registry of extra per-layer profiles (see profile_registry.h). The list itself comes from the generated
// profile_registry_generated.cpp (analysis/CMakeLists.txt); this file checks it once and answers look-ups.
#include "analysis/profile_registry.h"

#include <set>

#include "core/base/error.h"

namespace layerscope::analysis {

std::vector<ProfileSpec> makeRegisteredProfiles();  // generated: calls every registered factory

namespace {

// A registration error is a programming error, but it is reported like any other so tests name it.
std::vector<ProfileSpec> checkedProfiles() {
  auto profiles = makeRegisteredProfiles();
  std::set<std::string> names;
  for (const auto& p : profiles) {
    // the built-in analyses own these names (their keys, timings and *_info objects)
    for (const char* builtIn : {"sensitivity", "rope_influence", "redundancy", "stats", "load", "eval", "total"})
      if (p.name == builtIn) throw InvalidArgument("profile registry: '" + p.name + "' is a built-in analysis name");
    if (p.name.empty() || !names.insert(p.name).second)
      throw InvalidArgument("profile registry: profile name '" + p.name + "' is empty or registered twice");
    if (!p.run) throw InvalidArgument("profile registry: profile '" + p.name + "' has no run function");
    if (p.keys.empty()) throw InvalidArgument("profile registry: profile '" + p.name + "' declares no layer_scores keys");
    for (const auto& k : p.keys)
      if (k.rfind(p.name + ".", 0) != 0)
        throw InvalidArgument("profile registry: key '" + k + "' of profile '" + p.name + "' must start with '" +
                              p.name + ".'");
  }
  return profiles;
}

}  // namespace

const std::vector<ProfileSpec>& registeredProfiles() {
  static const std::vector<ProfileSpec> profiles = checkedProfiles();
  return profiles;
}

const ProfileSpec* findProfile(std::string_view name) {
  for (const auto& p : registeredProfiles())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> registeredProfileNames() {
  std::vector<std::string> names;
  for (const auto& p : registeredProfiles()) names.push_back(p.name);
  return names;
}

std::vector<std::string> defaultProfileNames() {
  std::vector<std::string> names;
  for (const auto& p : registeredProfiles())
    if (p.byDefault) names.push_back(p.name);
  return names;
}

}  // namespace layerscope::analysis
