// Process-wide LibTorch settings (see runtime.h).
#include "core/model/runtime.h"

#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace layerscope::core {
namespace {

// libgomp reads OMP_WAIT_POLICY once, in its ELF constructor. Spinning OpenMP workers fight OpenBLAS's threads
// and each other on small machines (2 cores: 2x slower training steps, 25x in the GUI), so PASSIVE is the default
// and the user's own value (set before start) wins. An executable's .preinit_array runs before any shared
// library's constructor, but a setenv there is lost: glibc's own constructor then resets `environ` to the
// original array. So the preinit function lends one entry of that array that no library constructor reads
// ("_=", "OLDPWD=", ...) to "OMP_WAIT_POLICY=PASSIVE", and this object's constructor, which runs after every
// shared library's (libgomp's included), gives it back and sets the variable properly. No re-exec, no cost.
// With none of those entries present (env -i) the policy is left alone. docs/performance.md has the measurement.
char kPassive[] = "OMP_WAIT_POLICY=PASSIVE";
char** lentSlot = nullptr;
char* lentEntry = nullptr;

bool startsWith(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

void lendWaitPolicy(int, char**, char** envp) {
  if (!envp) return;
  for (char** e = envp; *e; ++e)
    if (startsWith(*e, "OMP_WAIT_POLICY=")) return;
  for (const char* name : {"_=", "OLDPWD=", "SHLVL=", "LS_COLORS=", "LESSOPEN=", "LESSCLOSE=", "MAIL=", "PWD=",
                           "SSH_TTY=", "SSH_CLIENT=", "SSH_CONNECTION=", "HISTSIZE=", "HISTCONTROL="})
    for (char** e = envp; *e; ++e)
      if (startsWith(*e, name)) {
        lentSlot = e;
        lentEntry = *e;
        *e = kPassive;
        return;
      }
}
[[gnu::section(".preinit_array"), gnu::used]] void (*const kLendWaitPolicy)(int, char**, char**) = lendWaitPolicy;

[[gnu::constructor]] void returnWaitPolicy() {
  if (!lentSlot) return;
  *lentSlot = lentEntry;
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
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

}  // namespace layerscope::core
