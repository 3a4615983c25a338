// Process-wide LibTorch settings: thread count from the core count (LibTorch defaults to 1 here).
#pragma once

namespace layerscope::core {

/// Sets intra-op threads to the number of online cores (or $LAYERSCOPE_THREADS) once per process.
/// Returns the thread count in effect.
int configureRuntime();

}  // namespace layerscope::core
