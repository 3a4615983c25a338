// Process-wide LibTorch settings (see runtime.h).
#include "core/runtime.h"

#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace layerscope::core {

int configureRuntime() {
  static std::once_flag once;
  static int threads = 1;
  std::call_once(once, [] {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cores > 0 ? int(cores) : 1;
    if (const char* env = std::getenv("LAYERSCOPE_THREADS")) {
      int v = std::atoi(env);
      if (v > 0) threads = v;
    }
    torch::set_num_threads(threads);
  });
  return threads;
}

}  // namespace layerscope::core
