// Where the bundled demo model and tasks are: the one lookup the GUI and the CLI share. The installed files live in
// <prefix>/share/layerscope (models/demo, tasks/demo); a source tree keeps them in resources/. No Qt, no torch.
#pragma once

#include <filesystem>
#include <vector>

namespace layerscope::app {

/// Folders searched for bundled data, in order: $LAYERSCOPE_DATA_DIR (when set), the install prefix relative to the
/// running executable (<bindir>/../share/layerscope), and the source tree's resources/ in developer builds only
/// (CMake option LAYERSCOPE_SOURCE_TREE_FALLBACK; off in the package build).
std::vector<std::filesystem::path> bundledDataRoots();

/// `rel` ("models/demo", "tasks/demo/copy.mc.jsonl") under the first root that has it; empty when none has it.
std::filesystem::path findBundledData(const std::filesystem::path& rel);

}  // namespace layerscope::app
