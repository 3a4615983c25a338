// A process group for data-parallel runs on PyTorch's own distributed engine (c10d): a TCPStore for the
// rendezvous and a Gloo process group for the collectives, the pair `torchrun` jobs use on CPU
// (docs/distributed.md, docs/design.md "Distributed runs").
//
// A World of size 1 is the ordinary single-process path: no store, no sockets, every collective is the identity.
// Every blocking step (joining, each collective) is bounded by WorldOptions::timeout, so a rank that dies or never
// arrives turns into a DistributedError on every other rank instead of Gloo's default half hour of silence.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/base/error.h"
#include "core/base/shard_range.h"

namespace layerscope::core::dist {

/// Joining or running a collective failed: the rendezvous timed out, a port is taken, a peer closed its connection.
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// Where this process sits in the job and how to reach the others.
struct WorldOptions {
  int rank = 0;                       ///< this process, 0 .. worldSize-1
  int worldSize = 1;                  ///< processes in the job (all nodes)
  int localRank = 0;                  ///< this process among those on its machine (informational)
  std::string masterAddr = "127.0.0.1";  ///< the store's host: rank 0 listens there, the others connect to it
  int masterPort = 29500;             ///< the store's TCP port
  std::chrono::milliseconds timeout{120000};  ///< bound on joining and on every collective (default 120 s)
  int gatherThreads = 1;              ///< Gloo worker threads per process
};

/// The world the torchrun variables describe (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK, and
/// LAYERSCOPE_DIST_TIMEOUT in seconds), or nullopt when WORLD_SIZE is unset. A malformed or inconsistent value is an InvalidArgument naming the variable.
std::optional<WorldOptions> worldOptionsFromEnvironment();

/// Counters of what the collectives moved (for `bench analyze --nproc`).
struct TrafficStats {
  std::uint64_t calls = 0;    ///< collectives run
  std::uint64_t bytes = 0;    ///< payload bytes this rank contributed
  double seconds = 0;         ///< wall time spent inside collectives (waiting for peers included)
};

/// A joined process group. Move-only; the destructor tears the group down (no collective, never throws).
class World {
 public:
  /// The single-process world: rank 0 of 1, no store, no sockets.
  World();
  /// Joins the group `options` describes; size 1 is the single-process world. Throws DistributedError when the
  /// store's port is taken, the store cannot be reached, or a rank has not arrived within options.timeout (the
  /// message names the missing ranks).
  static World join(const WorldOptions& options);
  /// join(worldOptionsFromEnvironment()) when the torchrun variables are set, else the single-process world;
  /// `timeout` (if set) overrides the default bound.
  static World fromEnvironment(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  World(World&&) noexcept;
  World& operator=(World&&) noexcept;
  ~World();

  int rank() const { return options_.rank; }
  int size() const { return options_.worldSize; }
  bool isRoot() const { return options_.rank == 0; }
  bool distributed() const { return options_.worldSize > 1; }
  const WorldOptions& options() const { return options_; }
  const TrafficStats& traffic() const { return traffic_; }

  /// Element-wise sum over ranks, in place (float or double tensors on the CPU; other devices are copied).
  void allReduceSum(torch::Tensor& t);
  void allReduceSum(std::vector<double>& values);
  /// Every rank's `values` (lengths may differ), in rank order, on every rank.
  std::vector<std::vector<double>> allGather(const std::vector<double>& values);
  /// Every rank's `values` (lengths may differ), in rank order, on every rank.
  std::vector<std::vector<std::int64_t>> allGather(const std::vector<std::int64_t>& values);
  /// Every rank's string, in rank order (an error message, a digest of options).
  std::vector<std::string> allGather(const std::string& text);
  /// Replaces `t` on every rank by root's `t` (same shape and dtype on every rank).
  void broadcast(torch::Tensor& t, int root = 0);
  /// Returns when every rank has called it (or throws after the timeout).
  void barrier();
  /// An orderly end: a barrier, so no rank (rank 0 holds the store) leaves while another still needs it, then
  /// teardown. Call it at the end of a successful run; the destructor alone suffices after a failure.
  void finish();

 private:
  struct Impl;
  template <class Op>
  void collective(const char* what, std::uint64_t bytes, Op&& op);
  WorldOptions options_;
  TrafficStats traffic_;
  std::unique_ptr<Impl> impl_;
};

/// core::shardOf (core/base/shard_range.h), the split every data-parallel job uses.
using core::ShardRange;
using core::shardOf;

}  // namespace layerscope::core::dist
