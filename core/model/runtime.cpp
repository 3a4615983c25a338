// Process-wide LibTorch settings (see runtime.h).
#include "core/model/runtime.h"

#include <malloc.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <string>

#include "core/base/error.h"
#include "core/model/torch_compat.h"

namespace layerscope::core {
namespace {

// libgomp reads OMP_WAIT_POLICY once, in its ELF constructor. Spinning OpenMP workers fight OpenBLAS's threads
// and each other on small machines (2 cores: 2x slower training steps, 25x in the GUI), so PASSIVE is the default
// and the user's own value (set before start) wins.
// OpenBLAS (Debian's pthreads build) reads OPENBLAS_THREAD_TIMEOUT in its constructor too: how long an idle worker,
// and the caller waiting for its workers, spin with sched_yield() before sleeping (2^n cycles, default n = 28, about
// 0.1 s). Every yield hands the core to any other runnable process, even a nice 19 one, for a whole time slice, so on
// a machine with any background load a forward of small matrices waited milliseconds per product: 150-170 s instead
// of 10-11 s for a demo manipulation sweep beside two niced processes. n = 4, OpenBLAS's minimum, makes idle workers
// sleep at once: 23 s under the same load, the same 10-13 s on an idle machine (docs/performance.md).
// An executable's .preinit_array runs before any shared library's constructor, but a setenv there is lost: glibc's
// own constructor then resets `environ` to the original array. So the preinit function lends entries of that
// array that no library constructor reads ("_=", "OLDPWD=", ...) to these settings, and this object's constructor,
// which runs after every shared library's (libgomp's and OpenBLAS's included), gives them back and sets the
// variables properly. No re-exec, no cost. A variable the user set is left alone; with no entry to lend (env -i)
// the setting is not applied.
// PASSIVE alone (no spinning at all) makes every OpenMP parallel region wake its sleeping workers through the
// kernel. On a VM whose idle virtual CPUs halt, that wake-up costs tens of microseconds, many times a small product:
// the demo's forward over 64 tokens ran at 7,500 tok/s with PASSIVE and 20,000 with a bounded spin of 10,000 pauses
// (GOMP_SPINCOUNT, which libgomp honours whatever the policy; about 0.5 ms on a Xeon, whose pause takes ~140 cycles)
// before sleeping, against 20,000 with unbounded spinning (docs/performance.md, "Bounded spinning"). A worker then
// gives a busy core back within half a millisecond instead of never. Not lent when the user set OMP_WAIT_POLICY (an
// explicit PASSIVE means no spinning) or GOMP_SPINCOUNT.
struct LentSetting {
  const char* name;  // "NAME="
  char* entry;       // "NAME=value", lent to environ
  const char* unlessSet = nullptr;  // another "NAME=" whose presence means the user chose: nothing lent then
  char** slot = nullptr;
  char* original = nullptr;
};
char kPassive[] = "OMP_WAIT_POLICY=PASSIVE";
char kBlasTimeout[] = "OPENBLAS_THREAD_TIMEOUT=4";
char kSpinCount[] = "GOMP_SPINCOUNT=10000";
LentSetting lent[] = {{"OMP_WAIT_POLICY=", kPassive},
                      {"OPENBLAS_THREAD_TIMEOUT=", kBlasTimeout},
                      {"GOMP_SPINCOUNT=", kSpinCount, "OMP_WAIT_POLICY="}};

bool startsWith(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

void lendSettings(int, char**, char** envp) {
  if (!envp) return;
  // What the user set is decided on the environment as started, before anything is lent into it.
  bool userSet[std::size(lent)] = {};
  for (size_t i = 0; i < std::size(lent); ++i)
    for (char** e = envp; *e && !userSet[i]; ++e)
      userSet[i] = startsWith(*e, lent[i].name) || (lent[i].unlessSet && startsWith(*e, lent[i].unlessSet));
  char** next = envp;  // the lendable entries are taken in order, each once
  for (size_t i = 0; i < std::size(lent); ++i) {
    LentSetting& s = lent[i];
    if (userSet[i]) continue;
    for (; *next && !s.slot; ++next)
      for (const char* name : {"_=", "OLDPWD=", "SHLVL=", "LS_COLORS=", "LESSOPEN=", "LESSCLOSE=", "MAIL=", "PWD=",
                               "SSH_TTY=", "SSH_CLIENT=", "SSH_CONNECTION=", "HISTSIZE=", "HISTCONTROL="})
        if (startsWith(*next, name)) {
          s.slot = next;
          s.original = *next;
          *next = s.entry;
          break;
        }
  }
}
[[gnu::section(".preinit_array"), gnu::used]] void (*const kLendSettings)(int, char**, char**) = lendSettings;

[[gnu::constructor]] void returnSettings() {
  for (LentSetting& s : lent) {
    if (!s.slot) continue;
    *s.slot = s.original;
    const std::string name(s.name, std::strlen(s.name) - 1);
    setenv(name.c_str(), s.entry + std::strlen(s.name), /*overwrite=*/0);
  }
}

// glibc hands freed blocks back to the kernel eagerly: every block above its mmap threshold (128 KiB until the
// first such block is freed) is its own mapping, and free heap above the trim threshold is unmapped. A forward
// allocates and frees the same activation sizes layer after layer, so each one came back as fresh pages: page
// faults and page zeroing took 1.2-8.5 s of system time in a 3-4 s evaluation of the demo (docs/performance.md).
// Fixing the mmap threshold at 32 MiB (glibc's own dynamic upper limit) and keeping up to 512 MiB of free heap
// makes the allocator reuse them: 0.3 s. Blocks above 32 MiB (an 8B model's large activations) stay separate
// mappings and return to the kernel when freed. Left alone when the user tunes glibc's allocator.
[[gnu::constructor]] void keepFreedMemory() {
  for (const char* name : {"GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(name)) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace

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

bool cudaCompiled() { return compat::cudaRuntimeLinked(); }

int cudaDeviceCount() { return cudaCompiled() ? int(torch::cuda::device_count()) : 0; }

std::string defaultDeviceName() { return cudaDeviceCount() > 0 ? "cuda" : "cpu"; }

c10::Device parseDevice(const std::string& text) {
  if (text == "auto") return parseDevice(defaultDeviceName());
  if (text == "cpu") return hostDevice();
  const std::string hint = " (use --device cpu, or see docs/gpu.md to build against a CUDA LibTorch)";
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (text.size() > 4) {
      const std::string digits = text.substr(5);
      if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos)
        throw InvalidArgument("device '" + text + "': expected cuda:N with N a device index (cuda:0, cuda:1, ...)");
      index = std::stoi(digits);
    }
    if (!cudaCompiled())
      throw InvalidArgument("device '" + text + "' is unavailable: this LayerScope runs with a LibTorch built without "
                            "CUDA (a CPU-only build such as Debian's libtorch-dev)" + hint);
    const int n = cudaDeviceCount();
    if (n == 0)
      throw InvalidArgument("device '" + text + "' is unavailable: the LibTorch has CUDA but no CUDA device is visible "
                            "(no GPU, no driver, or CUDA_VISIBLE_DEVICES hides them)" + hint);
    if (index >= n)
      throw InvalidArgument("device '" + text + "' is unavailable: only " + std::to_string(n) + " CUDA device" +
                            (n == 1 ? "" : "s") + " visible (cuda:0" + (n > 1 ? "..cuda:" + std::to_string(n - 1) : "") + ")");
    return c10::Device(c10::DeviceType::CUDA, c10::DeviceIndex(index));
  }
  throw InvalidArgument("unknown device '" + text + "' (expected cpu, cuda, cuda:N or auto)");
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

std::string deviceName(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  if (device.is_cuda()) return "cuda:" + std::to_string(device.has_index() ? int(device.index()) : 0);
  return device.str();
}

}  // namespace layerscope::core
