// launch: starts N local ranks of one layerscope-cli command with torchrun's variables (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and supervises them: their output comes back prefixed "[rank i]", Ctrl-C and
// SIGTERM are forwarded to every rank, and when one rank fails the others are stopped and the job fails with that
// rank's exit status and last message (docs/distributed.md). No LibTorch: this runs in the launcher.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/cli/command.h"
#include "core/base/error.h"

namespace layerscope::app {
namespace {

std::atomic<int> gSignal{0};
std::atomic<int> gSignalCount{0};
extern "C" void onSignal(int sig) {
  gSignal = sig;
  ++gSignalCount;
}

/// This process's own command line (the launcher's argv): the words after "--" are the ranks' command, which the
/// option parser must not see (it would take a rank's own --nproc or --master-port for the launcher's).
std::vector<std::string> ownCommandLine() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> words;
  std::string w;
  while (std::getline(f, w, '\0')) words.push_back(w);
  return words;
}

/// A port on `addr` the kernel considers free now (bind to port 0).
int freePort(const std::string& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (::inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return 29500;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string describeStatus(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* name = ::strsignal(WTERMSIG(st));
    return "was killed by signal " + std::to_string(WTERMSIG(st)) + (name ? std::string(" (") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(st);
}

int exitCodeOf(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0); }

struct Rank {
  int rank = 0, local = 0;
  pid_t pid = -1;
  int outFd = -1, errFd = -1;
  std::string outBuf, errBuf, lastError;
  bool running = false;
  int status = 0;
};

/// The ranks' progress lines (app/cli/progress.h draws them with '\r'): launch shows rank 0's on one line that it
/// redraws, and drops the other ranks' (N lines redrawn in turn would flicker); `width` is what is on screen now.
struct ProgressLine {
  std::size_t width = 0;
};

/// Forwards complete lines from `buf` (plus everything when `flush`) to `os` with the rank prefix, clearing the
/// progress line on screen first. A segment ended by '\r' is a progress line: drawn in place of the previous one
/// when `draw`, else dropped.
void forwardLines(std::string& buf, std::ostream& os, const std::string& prefix, bool flush, std::string* last,
                  ProgressLine* progress = nullptr, bool draw = false) {
  const auto endProgress = [&] {  // the progress line is on stderr whichever stream this is
    if (progress && progress->width) std::cerr << "\r" << std::string(progress->width, ' ') << "\r" << std::flush;
    if (progress) progress->width = 0;
  };
  size_t start = 0;
  for (size_t k; (k = buf.find_first_of("\r\n", start)) != std::string::npos; start = k + 1) {
    const std::string line = buf.substr(start, k - start);
    if (buf[k] == '\r') {
      if (progress && draw && line.find_first_not_of(' ') != std::string::npos) {
        std::string shown = prefix + line;
        if (shown.size() < progress->width) shown.resize(progress->width, ' ');
        os << "\r" << shown;
        progress->width = shown.size();
      }
      continue;
    }
    endProgress();
    os << prefix << line << "\n";
    if (last && !line.empty()) *last = line;
  }
  buf.erase(0, start);
  if (flush && !buf.empty()) {
    endProgress();
    os << prefix << buf << "\n";
    if (last) *last = buf;
    buf.clear();
  }
  os.flush();
}

/// Reads what is available on `fd` into `buf`; closes it at end of file.
void drain(int& fd, std::string& buf) {
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      buf.append(chunk, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      ::close(fd);
      fd = -1;
    }
    return;
  }
}

int runLaunch(Args&) {
  // The launcher's options are the words between "launch" and "--"; the ranks' command is everything after it.
  const auto words = ownCommandLine();
  const auto at = std::find(words.begin(), words.end(), "launch");
  const auto dash = std::find(at, words.end(), "--");
  if (dash == words.end() || dash + 1 == words.end())
    throw InvalidArgument("launch: expected `launch --nproc N [options] -- COMMAND [ARGS...]` (the command after --)");
  Args own(std::vector<std::string>(at + 1, dash));
  const std::vector<std::string> command(dash + 1, words.end());
  const long long nproc = own.intOr("--nproc", 1);
  const long long nnodes = own.intOr("--nnodes", 1);
  const long long nodeRank = own.intOr("--node-rank", 0);
  const std::string addr = own.valueOr("--master-addr", "127.0.0.1");
  const auto portText = own.value("--master-port");
  const double timeout = own.doubleOr("--timeout", 120);
  own.finish();
  if (nproc < 1 || nproc > 1024) throw InvalidArgument("launch: --nproc expects 1..1024, got " + std::to_string(nproc));
  if (nnodes < 1) throw InvalidArgument("launch: --nnodes expects a positive count, got " + std::to_string(nnodes));
  if (nodeRank < 0 || nodeRank >= nnodes)
    throw InvalidArgument("launch: --node-rank " + std::to_string(nodeRank) + " is not in 0.." + std::to_string(nnodes - 1));
  if (!(timeout > 0)) throw InvalidArgument("launch: --timeout expects a positive number of seconds");
  if (nnodes > 1 && !portText)
    throw InvalidArgument("launch: with --nnodes > 1 every node needs the same --master-port (and --master-addr)");
  int port = 0;
  if (portText) {
    Args p({"--p", *portText});
    port = int(p.intOr("--p", 0));
    if (port < 1 || port > 65535) throw InvalidArgument("launch: --master-port expects 1..65535, got " + *portText);
  } else {
    port = freePort(addr);  // one machine: any free port (there is a small window before rank 0 binds it)
  }
  const long long world = nproc * nnodes;
  // One machine: the ranks meet in a file of a private folder (core/dist FileStore) instead of rank 0's TCPStore,
  // which LibTorch 1.13 binds on every interface; Gloo's own sockets stay on loopback. Removed when launch ends.
  std::string storeDir;
  if (nnodes == 1 && world > 1) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/layerscope-launch-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw Error("launch: cannot make a folder for the rendezvous in " + pattern + ": " +
                                                std::strerror(errno) + " (set TMPDIR to a writable folder)");
    storeDir = pattern;
  }
  struct RemoveStore {
    const std::string& dir;
    ~RemoveStore() {
      if (!dir.empty()) ::unlink((dir + "/store").c_str()), ::rmdir(dir.c_str());
    }
  } removeStore{storeDir};

  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  const long threadsPerRank = std::max(1L, (cores > 0 ? cores : 1) / long(nproc));
  // The ranks run this executable itself, or a program given by its path (a word with a '/').
  std::vector<std::string> argv;
  std::string exe;
  if (command[0].find('/') != std::string::npos) {
    exe = command[0];
    argv = command;
  } else {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) throw Error("launch: cannot find this executable (/proc/self/exe)");
    exe.assign(self, size_t(n));
    argv = {"layerscope-cli"};
    argv.insert(argv.end(), command.begin(), command.end());
  }

  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::vector<Rank> ranks(static_cast<size_t>(nproc));
  for (int i = 0; i < int(nproc); ++i) {
    Rank& r = ranks[size_t(i)];
    r.local = i;
    r.rank = int(nodeRank * nproc + i);
    int out[2], err[2];
    if (::pipe(out) != 0 || ::pipe(err) != 0) throw Error(std::string("launch: pipe: ") + std::strerror(errno));
    // A signal forwarded between fork and exec would meet the launcher's handler in the child and be lost: the
    // child resets the handlers while both signals are blocked and receives any pending one when it unblocks.
    sigset_t both, previous;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &both, &previous);
    r.pid = ::fork();
    if (r.pid == 0) {
      ::setpgid(0, 0);  // signals reach the ranks only through the launcher (no double Ctrl-C from the terminal)
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::sigprocmask(SIG_SETMASK, &previous, nullptr);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::close(out[0]), ::close(out[1]), ::close(err[0]), ::close(err[1]);
      ::setenv("RANK", std::to_string(r.rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(i).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("LAYERSCOPE_DIST_TIMEOUT", std::to_string(timeout).c_str(), 1);
      if (!storeDir.empty()) ::setenv("LAYERSCOPE_DIST_STORE", (storeDir + "/store").c_str(), 1);
      else ::unsetenv("LAYERSCOPE_DIST_STORE");
      // The machine's cores shared out, as torchrun's OMP_NUM_THREADS=1 default intends (N ranks of all-core
      // thread pools oversubscribe the machine); a LAYERSCOPE_THREADS the user set is kept.
      ::setenv("LAYERSCOPE_THREADS", std::to_string(threadsPerRank).c_str(), 0);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(exe.c_str(), cargv.data());
      std::fprintf(stderr, "cannot start %s: %s\n", exe.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (r.pid < 0) throw Error(std::string("launch: fork: ") + std::strerror(errno));
    ::close(out[1]), ::close(err[1]);
    r.outFd = out[0], r.errFd = err[0];
    ::fcntl(r.outFd, F_SETFL, O_NONBLOCK);
    ::fcntl(r.errFd, F_SETFL, O_NONBLOCK);
    r.running = true;
  }
  if (world > 1)
    std::cerr << "layerscope-cli: launch: ranks " << nodeRank * nproc << ".." << nodeRank * nproc + nproc - 1 << " of "
              << world << " started, store " << (storeDir.empty() ? addr + ":" + std::to_string(port) : storeDir + "/store")
              << "\n";

  using Clock = std::chrono::steady_clock;
  const Rank* failed = nullptr;
  int forwarded = 0;
  Clock::time_point killAt{};
  const auto signalAll = [&](int sig) {
    for (auto& r : ranks)
      if (r.running) ::kill(r.pid, sig);
  };
  const auto prefixOf = [&](const Rank& r) { return world > 1 ? "[rank " + std::to_string(r.rank) + "] " : std::string(); };
  ProgressLine progress;  // the first local rank's progress line, redrawn in place
  for (;;) {
    std::vector<pollfd> fds;
    for (auto& r : ranks) {
      if (r.outFd >= 0) fds.push_back({r.outFd, POLLIN, 0});
      if (r.errFd >= 0) fds.push_back({r.errFd, POLLIN, 0});
    }
    if (!fds.empty()) ::poll(fds.data(), nfds_t(fds.size()), 100);
    for (auto& r : ranks) {
      const std::string prefix = prefixOf(r);
      if (r.outFd >= 0) drain(r.outFd, r.outBuf);
      if (r.errFd >= 0) drain(r.errFd, r.errBuf);
      forwardLines(r.outBuf, std::cout, prefix, r.outFd < 0, nullptr, &progress);
      forwardLines(r.errBuf, std::cerr, prefix, r.errFd < 0, &r.lastError, &progress, &r == &ranks.front());
    }
    // Signals from the user: forward; a second Ctrl-C (or any signal after the grace period) kills.
    if (const int n = gSignalCount.load(); n != forwarded) {
      forwarded = n;
      const int sig = n > 1 ? SIGKILL : gSignal.load();
      signalAll(sig);
      if (killAt == Clock::time_point{}) killAt = Clock::now() + std::chrono::seconds(10);
    }
    bool anyRunning = false;
    std::vector<Rank*> newlyFailed;
    for (auto& r : ranks) {
      if (!r.running) continue;
      int st = 0;
      if (::waitpid(r.pid, &st, WNOHANG) == r.pid) {
        r.running = false;
        r.status = st;
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) newlyFailed.push_back(&r);
      } else {
        anyRunning = true;
      }
    }
    if (!failed && !newlyFailed.empty() && forwarded == 0) {
      // Ranks that fail together: the cause is a rank killed by a signal, or one that failed on its own, rather
      // than one whose collective failed because a peer went away.
      for (auto& r : ranks) {
        if (r.errFd >= 0) drain(r.errFd, r.errBuf);
        forwardLines(r.errBuf, std::cerr, prefixOf(r), r.errFd < 0, &r.lastError, &progress, &r == &ranks.front());
      }
      const auto collateral = [](const Rank* r) { return r->lastError.find("another rank has exited") != std::string::npos; };
      failed = newlyFailed.front();
      for (Rank* r : newlyFailed)
        if (WIFSIGNALED(r->status)) failed = r;
      if (!WIFSIGNALED(failed->status))
        for (Rank* r : newlyFailed)
          if (!collateral(r)) {
            failed = r;
            break;
          }
      signalAll(SIGTERM);  // the others would fail in their next collective anyway; stop them now
      killAt = Clock::now() + std::chrono::seconds(5);
    }
    const bool pipesOpen = std::any_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.outFd >= 0 || r.errFd >= 0; });
    if (!anyRunning && !pipesOpen) break;
    if (!anyRunning && pipesOpen) {  // a grandchild holds a pipe: stop waiting for it
      for (auto& r : ranks) {
        if (r.outFd >= 0) drain(r.outFd, r.outBuf), forwardLines(r.outBuf, std::cout, prefixOf(r), true, nullptr, &progress);
        if (r.errFd >= 0)
          drain(r.errFd, r.errBuf),
              forwardLines(r.errBuf, std::cerr, prefixOf(r), true, &r.lastError, &progress, &r == &ranks.front());
      }
      break;
    }
    if (killAt != Clock::time_point{} && Clock::now() > killAt) signalAll(SIGKILL);
  }
  for (auto& r : ranks) {
    if (r.outFd >= 0) ::close(r.outFd);
    if (r.errFd >= 0) ::close(r.errFd);
  }
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);

  if (forwarded > 0) {
    std::cerr << "layerscope-cli: launch: stopped by signal " << gSignal.load() << "; forwarded to every rank\n";
    return gSignal.load() == SIGINT ? 130 : 128 + gSignal.load();
  }
  if (failed) {
    std::ostringstream msg;
    msg << "rank " << failed->rank << " (pid " << failed->pid << ") " << describeStatus(failed->status)
        << "; the other ranks were stopped";
    if (!failed->lastError.empty()) msg << ". Its last message: " << failed->lastError;
    std::cerr << "layerscope-cli: launch: " << msg.str() << "\n";
    return std::max(1, exitCodeOf(failed->status));
  }
  return 0;
}

const CommandRegistrar kLaunch{Command{
    "launch",
    "--nproc N [--nnodes M --node-rank R] [--master-addr 127.0.0.1] [--master-port P] [--timeout 120] -- COMMAND ...",
    "run N local ranks of a layerscope-cli command (or of a program given by path) as one data-parallel job, with "
    "torchrun's variables; Ctrl-C reaches every rank, and one failing rank stops them all",
    runLaunch}};

}  // namespace
}  // namespace layerscope::app
