// Process-wide LibTorch settings, applied in one place that every executable calls: the OpenMP wait policy
// (before any library loads) and the thread count from the core count (LibTorch defaults to 1 here).
// Also the one place that turns a device name ("cpu", "cuda", "cuda:N", "auto") into a torch::Device and says
// clearly why a requested device is unavailable (docs/gpu.md).
#pragma once

#include <string>

#include <c10/core/Device.h>

namespace layerscope::core {

/// Sets intra-op threads to the number of online cores (or $LAYERSCOPE_THREADS) once per process.
/// Returns the thread count in effect. Linking this object (any executable that calls it) also sets
/// OMP_WAIT_POLICY=PASSIVE before libgomp loads, unless the user has set it (see runtime.cpp).
int configureRuntime();

/// The host: where tensors read by CPU code (statistics, probes, bootstrap, file writers) live.
inline c10::Device hostDevice() { return c10::Device(c10::DeviceType::CPU); }

/// True when the LibTorch this program runs with was built with CUDA (its CUDA library is loaded).
bool cudaCompiled();
/// Number of visible CUDA devices (0 without a CUDA build, a driver or a device).
int cudaDeviceCount();
/// "cuda" when the LibTorch has CUDA and a device is visible, else "cpu".
std::string defaultDeviceName();

/// Parses "cpu", "cuda", "cuda:N" or "auto" (= defaultDeviceName()), case-sensitive, and checks that the device
/// exists. Throws InvalidArgument for malformed text and for an unavailable device, saying why: a LibTorch built
/// without CUDA (e.g. Debian's libtorch-dev), no visible device, or an index past the device count.
c10::Device parseDevice(const std::string& text);
/// "cpu", "cuda:0", ... (the canonical name that parseDevice accepts).
std::string deviceName(const c10::Device& device);

/// Waits until `device` has finished its queued work (a no-op on the CPU); for timing asynchronous GPU kernels.
void synchronize(const c10::Device& device);

}  // namespace layerscope::core
