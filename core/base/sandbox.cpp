// The program sandbox (see sandbox.h). Process tree per program:
//   caller --fork--> A: own process group; fds 0-2 and the report pipe (3) only; unshare(net, pid[, user]);
//                      waits for B, so A ends only after every process of the namespace has ended
//            A --fork--> B: PID 1 of the new PID namespace (when granted): waits for C, reports its status; when B
//                           ends the kernel kills every process left in the namespace
//            B --fork--> C: chdir, setrlimit, nobody, no_new_privs, Landlock, execve(python3) with an empty env
// At the wall-clock limit the caller kills B (with a PID namespace: the kernel then kills the rest and B's exit
// completes after theirs) or else A's process group, and it returns only once the group is empty.
// Between fork and execve the children only make system calls: the caller is multi-threaded (allocation or
// locale calls there could deadlock), so every string is prepared before fork and errors travel as errno values.
#include "core/base/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "core/base/error.h"
#include "core/base/remove_tree.h"

namespace layerscope::core {
namespace fs = std::filesystem;

namespace {

constexpr uid_t kNobody = 65534;
constexpr double kSetupSeconds = 60;  // namespaces, user, Landlock and fork before the program runs

// Landlock user-space API values (include/uapi/linux/landlock.h), spelled out so that older kernel headers build.
constexpr uint64_t kLlWriteFile = 1ull << 1, kLlRemoveDir = 1ull << 4, kLlRemoveFile = 1ull << 5,
                   kLlMakeChar = 1ull << 6, kLlMakeDir = 1ull << 7, kLlMakeReg = 1ull << 8, kLlMakeSock = 1ull << 9,
                   kLlMakeFifo = 1ull << 10, kLlMakeBlock = 1ull << 11, kLlMakeSym = 1ull << 12,
                   kLlRefer = 1ull << 13, kLlTruncate = 1ull << 14;
constexpr uint64_t kLlNetBindTcp = 1ull << 0, kLlNetConnectTcp = 1ull << 1;
constexpr uint64_t kLlScopeAbstractUnix = 1ull << 0, kLlScopeSignal = 1ull << 1;
constexpr int kLlRulePathBeneath = 1;
constexpr unsigned kLlCreateRulesetVersion = 1u << 0;
struct LlRulesetAttr {
  uint64_t fs, net, scoped;
};
struct __attribute__((packed)) LlPathBeneath {
  uint64_t allowed;
  int32_t parentFd;
};

#if defined(SYS_landlock_create_ruleset)
long llCreate(const LlRulesetAttr* a, size_t size, unsigned flags) { return syscall(SYS_landlock_create_ruleset, a, size, flags); }
long llAddRule(int fd, const LlPathBeneath* r) { return syscall(SYS_landlock_add_rule, fd, kLlRulePathBeneath, r, 0); }
long llRestrict(int fd) { return syscall(SYS_landlock_restrict_self, fd, 0); }
#else
long llCreate(const LlRulesetAttr*, size_t, unsigned) { errno = ENOSYS; return -1; }
long llAddRule(int, const LlPathBeneath*) { errno = ENOSYS; return -1; }
long llRestrict(int) { errno = ENOSYS; return -1; }
#endif

int landlockAbi() {
  static const int abi = [] {
    const long v = llCreate(nullptr, 0, kLlCreateRulesetVersion);
    return v < 0 ? 0 : int(v);
  }();
  return abi;
}

// Messages from the children to the caller, one write() each (atomic below PIPE_BUF).
enum MsgKind : int32_t { kMsgSetupError = 1, kMsgIsolation = 2, kMsgStatus = 3, kMsgInit = 4 };
struct Msg {
  int32_t kind = 0, value = 0, err = 0;
  char stage[52] = {};
};

void sendMsg(int fd, int32_t kind, int32_t value, int32_t err, const char* stage) {
  Msg m;
  m.kind = kind, m.value = value, m.err = err;
  for (size_t i = 0; stage && stage[i] && i + 1 < sizeof m.stage; ++i) m.stage[i] = stage[i];
  const ssize_t r = ::write(fd, &m, sizeof m);
  (void)r;
}

[[noreturn]] void childFail(const char* stage) {
  sendMsg(3, kMsgSetupError, 0, errno, stage);
  _exit(127);
}

// Everything the children need, prepared before fork.
struct Plan {
  const char* python = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* workDir = nullptr;
  int stdinFd = -1, stdoutFd = -1, stderrFd = -1, reportFd = -1;
  rlim_t cpu = 0, as = 0, fsize = 0, nproc = 0;
  bool drop = false;
  int landlockAbi = 0;
};

[[noreturn]] void runProgramChild(const Plan& p, unsigned iso) {
  if (::chdir(p.workDir) != 0) childFail("chdir to the working directory");
  const struct { int res; rlim_t soft, hard; } limits[] = {
      {RLIMIT_CORE, 0, 0},        {RLIMIT_CPU, p.cpu, p.cpu + 1}, {RLIMIT_AS, p.as, p.as},
      {RLIMIT_FSIZE, p.fsize, p.fsize}, {RLIMIT_NOFILE, 64, 64},  {RLIMIT_NPROC, p.nproc, p.nproc}};
  for (const auto& l : limits) {
    const rlimit r{l.soft, l.hard};
    if (::setrlimit(l.res, &r) != 0) childFail("setrlimit");
  }
  if (p.drop) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0) childFail("setgroups");
    if (syscall(SYS_setresgid, kNobody, kNobody, kNobody) != 0) childFail("setresgid nobody");
    if (syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) childFail("setresuid nobody");
    iso |= kUnprivilegedUid;
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) childFail("prctl no_new_privs");
  if (p.landlockAbi >= 1) {
    uint64_t fs = kLlWriteFile | kLlRemoveDir | kLlRemoveFile | kLlMakeChar | kLlMakeDir | kLlMakeReg | kLlMakeSock |
                  kLlMakeFifo | kLlMakeBlock | kLlMakeSym;
    if (p.landlockAbi >= 2) fs |= kLlRefer;
    if (p.landlockAbi >= 3) fs |= kLlTruncate;
    LlRulesetAttr attr{fs, p.landlockAbi >= 4 ? kLlNetBindTcp | kLlNetConnectTcp : 0,
                       p.landlockAbi >= 6 ? kLlScopeAbstractUnix | kLlScopeSignal : 0};
    const size_t size = p.landlockAbi >= 6 ? 24 : p.landlockAbi >= 4 ? 16 : 8;
    const int rfd = int(llCreate(&attr, size, 0));
    if (rfd < 0) childFail("landlock_create_ruleset");
    const int dfd = ::open(p.workDir, O_PATH | O_CLOEXEC);
    if (dfd < 0) childFail("open the working directory");
    const LlPathBeneath rule{fs, dfd};
    if (llAddRule(rfd, &rule) != 0) childFail("landlock_add_rule");
    if (llRestrict(rfd) != 0) childFail("landlock_restrict_self");
    ::close(dfd);
    ::close(rfd);
    iso |= kLandlockWrites;
    if (attr.net) iso |= kLandlockNetwork;
    if (attr.scoped) iso |= kLandlockScoped;
  }
  sendMsg(3, kMsgIsolation, int32_t(iso), 0, "");
  ::execve(p.python, p.argv, p.envp);
  childFail("execve python3");
}

[[noreturn]] void runInitChild(const Plan& p, unsigned iso) {
  ::signal(SIGTERM, SIG_DFL);  // A's handler is not B's
  const pid_t c = ::fork();
  if (c < 0) childFail("fork the program");
  if (c == 0) runProgramChild(p, iso);
  int st = 0;
  for (;;) {
    int s = 0;
    const pid_t w = ::waitpid(-1, &s, 0);
    if (w == c) {
      st = s;
      break;
    }
    if (w < 0 && errno != EINTR) childFail("waitpid");
  }
  sendMsg(3, kMsgStatus, st, 0, "");
  _exit(0);  // as PID 1 of its namespace this kills whatever the program left behind
}

volatile pid_t gInitPid = 0;  // in A: B's pid

// A's SIGTERM (the caller's wall-clock limit or cancel): kill B while it is A's unreaped child, so its pid cannot
// have been reused. With a PID namespace the kernel then kills the rest and A's wait returns after them.
void killInit(int) {
  if (gInitPid > 0) ::kill(gInitPid, SIGKILL);
}

[[noreturn]] void runOuterChild(const Plan& p) {
  ::setpgid(0, 0);
  // fds: 0-2 and the report pipe as 3; every other descriptor of the caller is closed.
  const int src[4] = {p.stdinFd, p.stdoutFd, p.stderrFd, p.reportFd};
  int high[4];
  for (int i = 0; i < 4; ++i)
    if ((high[i] = ::fcntl(src[i], F_DUPFD, 100)) < 0) _exit(126);
  for (int i = 0; i < 4; ++i)
    if (::dup2(high[i], i) < 0) _exit(126);
  if (::close_range(4, ~0u, 0) != 0)
    for (int fd = 4; fd < 4096; ++fd) ::close(fd);
  ::fcntl(3, F_SETFD, FD_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
  unsigned iso = 0;
  int user = ::geteuid() == 0 ? 0 : CLONE_NEWUSER;
  if (::unshare(user | CLONE_NEWNET | CLONE_NEWPID) == 0) iso = kIsolatedNetwork | kIsolatedPids;
  else if (::unshare(user | CLONE_NEWNET) == 0) iso = kIsolatedNetwork;
  else if (::unshare(CLONE_NEWPID) == 0) iso = kIsolatedPids, user = 0;
  if (user && (iso & kIsolatedNetwork)) iso |= kIsolatedUser;
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);  // until gInitPid is set
  struct sigaction sa {};
  sa.sa_handler = killInit;
  ::sigaction(SIGTERM, &sa, nullptr);
  const pid_t b = ::fork();
  if (b < 0) childFail("fork the sandbox init");
  if (b == 0) {
    ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
    runInitChild(p, iso);
  }
  gInitPid = b;
  sendMsg(3, kMsgInit, int32_t(b), int32_t(iso), "");
  ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
  int st = 0;
  while (::waitpid(b, &st, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

std::string lastErrorLine(const std::string& err) {
  size_t end = err.size();
  while (end > 0) {
    const size_t start = err.rfind('\n', end - 1);
    const size_t b = start == std::string::npos ? 0 : start + 1;
    std::string line = err.substr(b, end - b);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return line.size() > 300 ? line.substr(0, 300) + "..." : line;
    if (start == std::string::npos) break;
    end = start;
  }
  return "";
}

std::string tail(const fs::path& file, size_t keep) {
  std::ifstream in(file, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > keep ? s.substr(s.size() - keep) : s;
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string secondsText(double s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

void removeSandboxTree(const fs::path& dir) {
  std::error_code ec;
  core::removeTree(dir, ec);
  if (!ec) return;
  // A program that made its own folders unreadable (non-root runs): give them back and retry.
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  core::removeTree(dir, ec);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string sandboxStatusName(SandboxStatus s) {
  switch (s) {
    case SandboxStatus::Passed: return "passed";
    case SandboxStatus::Failed: return "failed";
    case SandboxStatus::Timeout: return "timeout";
    case SandboxStatus::Error: return "error";
  }
  return "error";
}

std::string sandboxIsolationText(unsigned bits) {
  static const std::pair<unsigned, const char*> names[] = {
      {kIsolatedNetwork, "netns"},      {kIsolatedPids, "pidns"},          {kIsolatedUser, "userns"},
      {kUnprivilegedUid, "nobody"},     {kLandlockWrites, "landlock-fs"},  {kLandlockNetwork, "landlock-net"},
      {kLandlockScoped, "landlock-scope"}};
  std::string out;
  for (const auto& [bit, name] : names)
    if (bits & bit) {
      if (!out.empty()) out += ' ';
      out += name;
    }
  return out.empty() ? "none" : out;
}

fs::path sandboxPython(const SandboxOptions& opt) {
  auto executable = [](const fs::path& p) { return ::access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p); };
  if (!opt.python.empty()) {
    if (!executable(opt.python)) throw InvalidArgument("sandbox: python interpreter '" + opt.python.string() + "' is not an executable file");
    return opt.python;
  }
  if (executable("/usr/bin/python3")) return "/usr/bin/python3";
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string dir; std::getline(ss, dir, ':');)
      if (!dir.empty() && executable(fs::path(dir) / "python3")) return fs::path(dir) / "python3";
  }
  throw InvalidArgument("sandbox: no python3 found (tried /usr/bin/python3 and PATH); install python3 or name one");
}

SandboxResult runSandboxed(const SandboxProgram& program, const SandboxOptions& opt, const JobControl* job) {
  if (program.empty()) throw InvalidArgument("sandbox: a program needs at least its script file");
  for (const auto& f : program)
    if (f.name.empty() || f.name == "." || f.name == ".." || f.name.find('/') != std::string::npos || f.name.find('\0') != std::string::npos)
      throw InvalidArgument("sandbox: file name '" + f.name + "' is not a plain file name");
  if (opt.wallSeconds <= 0 || opt.cpuSeconds <= 0 || opt.addressSpaceBytes == 0 || opt.maxProcesses <= 0)
    throw InvalidArgument("sandbox: limits must be positive (wall, cpu, address space, processes)");
  const std::string python = sandboxPython(opt).string();
  const bool drop = opt.dropPrivileges && ::geteuid() == 0;

  const fs::path base = opt.tempRoot.empty() ? fs::temp_directory_path() : opt.tempRoot;
  std::string pattern = (base / "layerscope-sandbox-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw Error("sandbox: cannot make a working directory in " + base.string() + ": " + std::strerror(errno));
  const fs::path root = pattern;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() { removeSandboxTree(dir); }
  } cleanup{root};
  const fs::path work = root / "work";
  const std::string workText = work.string();
  if (::mkdir(work.c_str(), 0700) != 0) throw Error("sandbox: cannot make " + workText + ": " + std::strerror(errno));
  for (const auto& f : program) {
    std::ofstream out(work / f.name, std::ios::binary);
    out << f.contents;
    if (!out.flush()) throw Error("sandbox: cannot write " + (work / f.name).string());
    if (drop && ::chown((work / f.name).c_str(), kNobody, kNobody) != 0) throw Error("sandbox: cannot hand " + f.name + " to nobody");
  }
  if (drop && (::chown(work.c_str(), kNobody, kNobody) != 0 || ::chmod(root.c_str(), 0711) != 0))
    throw Error("sandbox: cannot hand " + workText + " to nobody: " + std::strerror(errno));

  std::string a0 = "python3", a1 = "-I", a2 = "-B", a3 = "-X", a4 = "utf8", a5 = program[0].name;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), nullptr};
  char* envp[] = {nullptr};

  SandboxResult r;
  for (int attempt = 0;; ++attempt) {
    Fd in{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
    Fd out{::open((root / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    Fd err{::open((root / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    int pipeFds[2];
    if (in.fd < 0 || out.fd < 0 || err.fd < 0 || ::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0)
      throw Error(std::string("sandbox: cannot open the program's standard streams: ") + std::strerror(errno));
    Fd reportRead{pipeFds[0]}, reportWrite{pipeFds[1]};
    Plan plan;
    plan.python = python.c_str(), plan.argv = argv, plan.envp = envp, plan.workDir = workText.c_str();
    plan.stdinFd = in.fd, plan.stdoutFd = out.fd, plan.stderrFd = err.fd, plan.reportFd = reportWrite.fd;
    plan.cpu = rlim_t(opt.cpuSeconds), plan.as = rlim_t(opt.addressSpaceBytes), plan.fsize = rlim_t(opt.fileSizeBytes);
    plan.nproc = rlim_t(opt.maxProcesses), plan.drop = drop, plan.landlockAbi = landlockAbi();

    // The wall clock starts when the program is exec'd (the isolation message just before execve), not at the
    // fork: creating namespaces can stall for seconds while the kernel tears down earlier ones (seen in CI, where
    // a correct program hit a 10 s limit), and that is not the program's time. Set-up has its own bound.
    const auto forkedAt = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> execAt;
    const pid_t a = ::fork();
    if (a < 0) throw Error(std::string("sandbox: fork failed: ") + std::strerror(errno));
    if (a == 0) runOuterChild(plan);
    ::setpgid(a, a);  // also done by the child; whichever runs first
    Fd pidfd{int(syscall(SYS_pidfd_open, a, 0))};
    std::vector<Msg> msgs;
    auto drain = [&] {
      for (Msg m; ::read(reportRead.fd, &m, sizeof m) == ssize_t(sizeof m);) msgs.push_back(m);
    };
    bool timedOut = false, cancelled = false, setupTimedOut = false;
    for (;;) {
      siginfo_t si{};
      if (::waitid(P_PID, id_t(a), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == a) break;
      const auto now = std::chrono::steady_clock::now();
      if (!execAt) {
        drain();
        for (const Msg& m : msgs)
          if (m.kind == kMsgIsolation) execAt = now;
      }
      const double elapsed = execAt ? std::chrono::duration<double>(now - *execAt).count() : 0.0;
      const bool setupStalled = !execAt && std::chrono::duration<double>(now - forkedAt).count() >= kSetupSeconds;
      if (elapsed >= opt.wallSeconds || setupStalled || (job && job->stopRequested())) {
        timedOut = elapsed >= opt.wallSeconds || setupStalled, cancelled = !timedOut;
        setupTimedOut = setupStalled;
        drain();
        bool pidNamespace = false;
        for (const Msg& m : msgs)
          if (m.kind == kMsgInit) pidNamespace = unsigned(m.err) & kIsolatedPids;
        // A kills B; with a PID namespace the kernel kills the rest and A ends after them. Else: the whole group.
        ::kill(a, SIGTERM);
        if (!pidNamespace) ::kill(-a, SIGKILL);
        siginfo_t done{};
        ::waitid(P_PID, id_t(a), &done, WEXITED | WNOWAIT);
        break;
      }
      const int waitMs = int(std::clamp((opt.wallSeconds - elapsed) * 1000.0, 1.0, 20.0));
      if (pidfd.fd >= 0) {
        pollfd pfd{pidfd.fd, POLLIN, 0};
        ::poll(&pfd, 1, waitMs);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(waitMs, 5)));
      }
    }
    // Stragglers of the group (without a PID namespace). A is a zombie until reaped, so the group id stays
    // reserved while this runs; after reaping, wait (bounded) until the last member has gone.
    ::kill(-a, SIGKILL);
    int st = 0;
    while (::waitpid(a, &st, 0) < 0 && errno == EINTR) {
    }
    for (int i = 0; i < 5000 && ::kill(-a, 0) == 0; ++i) {
      ::kill(-a, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    r = SandboxResult{};
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - execAt.value_or(forkedAt)).count();
    if (cancelled) throw Cancelled();
    drain();

    bool haveStatus = false, setupError = false;
    int status = 0;
    std::string setupText;
    int setupErrno = 0;
    for (const Msg& m : msgs) {
      if (m.kind == kMsgIsolation) r.isolation = unsigned(m.value);
      if (m.kind == kMsgStatus) haveStatus = true, status = m.value;
      if (m.kind == kMsgSetupError && !setupError) {
        setupError = true, setupErrno = m.err;
        setupText = std::string(m.stage, strnlen(m.stage, sizeof m.stage)) + ": " + std::strerror(m.err);
      }
    }
    r.stdoutTail = tail(root / "stdout", opt.outputBytes);
    r.stderrTail = tail(root / "stderr", opt.outputBytes);
    if (timedOut) {
      r.status = SandboxStatus::Timeout;
      r.reason = setupTimedOut ? "sandbox set-up took over " + secondsText(kSetupSeconds) + " s"
                               : "wall-clock limit (" + secondsText(opt.wallSeconds) + " s)";
    } else if (setupError) {
      // execve is refused with EAGAIN while other programs of the same uid hold every RLIMIT_NPROC slot.
      if (setupErrno == EAGAIN && attempt < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
        continue;
      }
      r.status = SandboxStatus::Error;
      r.reason = "sandbox: " + setupText;
    } else if (!haveStatus) {
      r.status = SandboxStatus::Error;
      r.reason = "sandbox: the program's parent process ended without reporting its status";
    } else if (WIFEXITED(status)) {
      r.exitCode = WEXITSTATUS(status);
      r.status = r.exitCode == 0 ? SandboxStatus::Passed : SandboxStatus::Failed;
      if (r.exitCode != 0) {
        r.reason = lastErrorLine(r.stderrTail);
        if (r.reason.empty()) r.reason = "exit status " + std::to_string(r.exitCode);
        if (r.reason.rfind("MemoryError", 0) == 0)
          r.reason += " (address-space limit " + std::to_string(opt.addressSpaceBytes >> 20) + " MiB)";
      }
    } else if (WIFSIGNALED(status)) {
      r.signal = WTERMSIG(status);
      r.status = SandboxStatus::Failed;
      if (r.signal == SIGXCPU || (r.signal == SIGKILL && r.seconds >= opt.cpuSeconds))
        r.reason = "CPU time limit (" + std::to_string(opt.cpuSeconds) + " s)";
      else if (r.signal == SIGXFSZ)
        r.reason = "file size limit (" + std::to_string(opt.fileSizeBytes >> 20) + " MiB)";
      else
        r.reason = "killed by " + signalName(r.signal);
    }
    return r;
  }
}

std::vector<SandboxResult> runSandboxed(const std::vector<SandboxProgram>& programs, const SandboxOptions& opt,
                                        const JobControl* job) {
  std::vector<SandboxResult> results(programs.size());
  if (programs.empty()) return results;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t workers = std::min<size_t>(programs.size(), opt.jobs > 0 ? size_t(opt.jobs) : cores);
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  std::mutex errorMutex;
  std::exception_ptr firstError;
  // Workers get their own stop token so a cancel from the caller kills the programs that are running.
  std::stop_source workerStop;
  const JobControl workerJob(workerStop.get_token());
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i; !stop && (i = next++) < programs.size();) {
        try {
          results[i] = runSandboxed(programs[i], opt, &workerJob);
        } catch (...) {
          std::lock_guard lock(errorMutex);
          if (!firstError) firstError = std::current_exception();
          stop = true;
          workerStop.request_stop();
        }
        ++done;
      }
    });
  std::exception_ptr callerError;
  try {
    for (size_t last = size_t(-1); done < programs.size() && !stop;) {
      if (done != last) reportProgress(job, {"sandbox", double(last = done), double(programs.size())});
      checkCancelled(job);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (...) {
    callerError = std::current_exception();
    stop = true;
    workerStop.request_stop();
  }
  for (auto& t : pool) t.join();
  if (callerError) std::rethrow_exception(callerError);
  if (firstError) std::rethrow_exception(firstError);
  reportProgress(job, {"sandbox", double(programs.size()), double(programs.size())});
  return results;
}

}  // namespace layerscope::core
