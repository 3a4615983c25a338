// A sandbox for untrusted generated programs (HumanEval completions): each program runs in its own python3
// child with a wall-clock timeout that kills its whole process tree, setrlimit CPU / address space / file size /
// process limits, no inherited file descriptors, a fresh temporary working directory removed afterwards, an empty
// environment, and, where the kernel allows, its own network and PID namespaces, an unprivileged uid (when run as
// root) and a Landlock rule set that allows writes only beneath its directory. Linux only; no torch, no Qt.
// What each layer does and what this machine allowed: docs/reproduce.md, "The sandbox".
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/base/job_control.h"

namespace layerscope::core {

/// A file placed in the program's working directory before it runs.
struct SandboxFile {
  std::string name;      ///< a plain file name (no '/', not "." or ".."), e.g. "main.py"
  std::string contents;
};

/// A program: files[0] is the script python3 runs; the rest are data files beside it.
using SandboxProgram = std::vector<SandboxFile>;

struct SandboxOptions {
  std::filesystem::path python;                  ///< interpreter; empty = /usr/bin/python3, else python3 on PATH
  double wallSeconds = 10;                       ///< wall-clock limit per program (s); then the tree is killed
  int cpuSeconds = 10;                           ///< RLIMIT_CPU (s): SIGXCPU, one second later SIGKILL
  std::uint64_t addressSpaceBytes = 1ull << 30;  ///< RLIMIT_AS (bytes); Python raises MemoryError at it
  std::uint64_t fileSizeBytes = 16ull << 20;     ///< RLIMIT_FSIZE (bytes) for every file it writes, stdout included
  int maxProcesses = 64;                         ///< RLIMIT_NPROC (processes of the uid it runs as)
  std::size_t outputBytes = 16 << 10;            ///< bytes of stdout / stderr kept (the last ones)
  int jobs = 0;                                  ///< programs run at once by runSandboxed(vector); 0 = core count
  bool dropPrivileges = true;                    ///< when run as root: run the program as nobody (65534)
  std::filesystem::path tempRoot;                ///< where working directories are made; empty = system temp
};

enum class SandboxStatus {
  Passed,   ///< exit status 0
  Failed,   ///< non-zero exit status or killed by a signal (an exception, a limit, a crash)
  Timeout,  ///< still running at the wall-clock limit; the whole tree was killed
  Error,    ///< the sandbox itself could not run the program (no python3, fork failed, ...)
};
std::string sandboxStatusName(SandboxStatus s);  ///< "passed", "failed", "timeout", "error"

/// Isolation layers, as a bit set, that applied to one run.
enum SandboxIsolation : unsigned {
  kIsolatedNetwork = 1u << 0,    ///< own network namespace (no interfaces up: no network)
  kIsolatedPids = 1u << 1,       ///< own PID namespace: the whole tree dies with the program
  kIsolatedUser = 1u << 2,       ///< own user namespace (when not root)
  kUnprivilegedUid = 1u << 3,    ///< ran as nobody (root only)
  kLandlockWrites = 1u << 4,     ///< Landlock: file-system writes only beneath the working directory
  kLandlockNetwork = 1u << 5,    ///< Landlock (ABI >= 4): no TCP bind / connect
  kLandlockScoped = 1u << 6,     ///< Landlock (ABI >= 6): no signals / abstract sockets outside the sandbox
};
/// "netns pidns nobody landlock-fs landlock-net landlock-scope" (the layers present, space-separated).
std::string sandboxIsolationText(unsigned bits);

struct SandboxResult {
  SandboxStatus status = SandboxStatus::Error;
  std::string reason;     ///< "" when passed; else e.g. "AssertionError", "CPU time limit (10 s)", "wall-clock limit (10 s)"
  int exitCode = -1;      ///< the program's exit status, -1 when it was killed by a signal or never ran
  int signal = 0;         ///< the signal that ended it, 0 if none
  double seconds = 0;     ///< wall-clock time from start to end (s)
  unsigned isolation = 0; ///< SandboxIsolation bits that applied
  std::string stdoutTail; ///< last outputBytes of stdout
  std::string stderrTail; ///< last outputBytes of stderr
};

/// Runs one program. Never throws for anything the program does; throws InvalidArgument for a bad file name,
/// Error when the working directory cannot be made, and Cancelled (after killing the program) when `job` asks.
SandboxResult runSandboxed(const SandboxProgram& program, const SandboxOptions& opt, const JobControl* job = nullptr);

/// Runs the programs, at most opt.jobs (default: the core count) at a time; results in input order.
/// Progress ("sandbox", done, total) is reported from the calling thread. Cancel kills the running programs.
std::vector<SandboxResult> runSandboxed(const std::vector<SandboxProgram>& programs, const SandboxOptions& opt,
                                        const JobControl* job = nullptr);

/// The interpreter runSandboxed uses for these options (InvalidArgument naming what was tried if none).
std::filesystem::path sandboxPython(const SandboxOptions& opt);

}  // namespace layerscope::core
