// Test helpers for multi-process jobs: start processes with extra environment variables, their stdout and stderr
// in files, and wait for all of them with a deadline (a test never hangs: stragglers are SIGKILLed and reported).
#pragma once

#include <chrono>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace layerscope::test {

struct Proc {
  pid_t pid = -1;
  std::filesystem::path out, err;
  int status = -1;       ///< exit status, or 128 + signal
  bool finished = false;
  double seconds = 0;    ///< from start to exit
  std::string stdoutText() const { return read(out); }
  std::string stderrText() const { return read(err); }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice for port 0).
inline int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Starts `argv` with `env` added to this process's environment; output to dir/<tag>.out and .err.
inline Proc start(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                  const std::filesystem::path& dir, const std::string& tag) {
  Proc p;
  p.out = dir / (tag + ".out");
  p.err = dir / (tag + ".err");
  std::fflush(stdout);  // else the child's freopen flushes a copy of the parent's buffered output a second time
  std::fflush(stderr);
  p.pid = ::fork();
  if (p.pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!std::freopen(p.out.c_str(), "w", stdout) || !std::freopen(p.err.c_str(), "w", stderr)) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return p;
}

/// Waits for every process until `limit` has passed since `t0`; those still running are SIGKILLed and keep
/// finished == false. Returns true when all finished by themselves.
inline bool waitAll(std::vector<Proc>& procs, std::chrono::steady_clock::time_point t0,
                    std::chrono::milliseconds limit) {
  for (;;) {
    bool running = false;
    for (auto& p : procs) {
      if (p.finished || p.pid <= 0) continue;
      int st = 0;
      if (::waitpid(p.pid, &st, WNOHANG) == p.pid) {
        p.finished = true;
        p.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } else {
        running = true;
      }
    }
    if (!running) return true;
    if (std::chrono::steady_clock::now() - t0 > limit) {
      for (auto& p : procs)
        if (!p.finished) {
          ::kill(p.pid, SIGKILL);
          ::waitpid(p.pid, nullptr, 0);
        }
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// torchrun's variables for `rank` of `size` on 127.0.0.1:port.
inline std::vector<std::pair<std::string, std::string>> rankEnv(int rank, int size, int port) {
  return {{"RANK", std::to_string(rank)}, {"WORLD_SIZE", std::to_string(size)}, {"LOCAL_RANK", std::to_string(rank)},
          {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}};
}

}  // namespace layerscope::test
