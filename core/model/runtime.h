// Process-wide LibTorch settings, applied in one place that every executable calls: the OpenMP wait policy
// (before any library loads) and the thread count from the core count (LibTorch defaults to 1 here).
#pragma once

namespace layerscope::core {

/// Sets intra-op threads to the number of online cores (or $LAYERSCOPE_THREADS) once per process.
/// Returns the thread count in effect. Linking this object (any executable that calls it) also sets
/// OMP_WAIT_POLICY=PASSIVE before libgomp loads, unless the user has set it (see runtime.cpp).
int configureRuntime();

}  // namespace layerscope::core
