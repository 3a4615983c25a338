// layerscope-cli info: a checkpoint's summary from config.json and the safetensors headers, validated as a load
// would validate them but without reading a weight. It runs in the launcher (no LibTorch), so it answers in
// milliseconds (docs/design.md, "CLI start-up").
#include <iostream>

#include "app/cli/command.h"
#include "core/model/checkpoint_layout.h"

namespace layerscope::app {
namespace {

int runInfo(Args& args) {
  const std::filesystem::path dir = args.positional("MODEL_DIR");
  args.finish();
  const auto ck = core::CheckpointLayout::open(dir);
  if (!ck.unexpected().empty())
    std::cerr << "layerscope-cli: warning: " << ck.unexpected().size()
              << " tensor(s) in the checkpoint are not used by the model, e.g. '" << ck.unexpected().front() << "'\n";
  nlohmann::json j = ck.config().summary();
  j["stored_dtype"] = ck.storedDtype();
  j["file_bytes"] = ck.fileBytes();
  j["unexpected_tensors"] = ck.unexpected();
  std::cout << j.dump(2) << "\n";
  return 0;
}

const CommandRegistrar kInfo({"info", "MODEL_DIR", "print a JSON summary of a Hugging Face checkpoint", runInfo});

}  // namespace
}  // namespace layerscope::app
