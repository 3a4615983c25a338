// The training loop (see trainer.h). AdamW follows torch.optim.AdamW: p -= lr*wd*p, then the bias-corrected
// Adam step lr * m_hat / (sqrt(v_hat) + eps).
#include "core/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/model/safetensors.h"
#include "core/base/remove_tree.h"

namespace layerscope::core {
namespace fs = std::filesystem;

double lrFactor(const TrainerOptions& o, int64_t step) {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return double(step + 1) / double(o.warmupSteps);
  const int64_t decay = std::max<int64_t>(1, o.steps - o.warmupSteps - 1);
  const double progress = std::min(1.0, double(step - o.warmupSteps) / double(decay));
  return o.minLrRatio + (1.0 - o.minLrRatio) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

Trainer::Trainer(std::vector<ParamGroup> groups, TrainerOptions options) : groups_(std::move(groups)), opt_(std::move(options)) {
  if (opt_.steps < 1) throw InvalidArgument("training needs at least one step");
  if (opt_.gradAccum < 1) throw InvalidArgument("gradient accumulation must be >= 1");
  for (const auto& g : groups_) {
    std::vector<torch::Tensor> m, v;
    for (const auto& p : g.params) {
      if (!p.value.requires_grad() || p.value.scalar_type() != torch::kFloat32)
        throw InvalidArgument("trainable parameter '" + p.name + "' must be a float32 tensor that requires grad");
      m.push_back(torch::zeros_like(p.value));
      v.push_back(torch::zeros_like(p.value));
    }
    m_.push_back(std::move(m));
    v_.push_back(std::move(v));
  }
}

int64_t Trainer::trainableCount() const {
  int64_t n = 0;
  for (const auto& g : groups_)
    for (const auto& p : g.params) n += p.value.numel();
  return n;
}

namespace {

// A checkpoint directory is exactly `step-<digits>`; staging and pruning leftovers have other names.
int64_t checkpointStep(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.size() <= 5 || name.rfind("step-", 0) != 0 || name.size() > 5 + 18 ||
      name.find_first_not_of("0123456789", 5) != std::string::npos)
    return -1;
  return std::stoll(name.substr(5));
}

// True when the directory holds a checkpoint that loads: a manifest with step and losses, and both tensor files
// with valid headers. Directories only appear complete (staged, then renamed), so this guards against damage
// from outside the program, not against LayerScope's own writes.
bool loadable(const fs::path& dir) {
  try {
    std::ifstream in(dir / "manifest.json");
    if (!in) return false;
    const auto m = nlohmann::json::parse(in);
    if (!m.at("step").is_number_integer() || !m.at("losses").is_array()) return false;
    SafetensorsFile::open(dir / "params.safetensors");
    SafetensorsFile::open(dir / "optimizer.safetensors");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::pair<int64_t, fs::path>> checkpointsIn(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (const int64_t s = checkpointStep(e.path()); s >= 0) out.emplace_back(s, e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Removes what a killed run left in the checkpoint folder (staging and pruning leftovers): the folder belongs to
// one run at a time, and only step-<digits> directories are checkpoints.
void sweepCheckpointDir(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return;
  std::vector<fs::path> junk;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (checkpointStep(e.path()) < 0) junk.push_back(e.path());
  for (const auto& p : junk) removeTree(p, ec);
}

}  // namespace

fs::path Trainer::newestCheckpoint(const fs::path& dir) {
  const auto all = checkpointsIn(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (loadable(it->second)) return it->second;
  return {};
}

void Trainer::saveCheckpoint(int64_t step, const TrainResult& history) const {
  if (opt_.checkpointDir.empty()) return;
  fs::create_directories(opt_.checkpointDir);
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  const fs::path final = opt_.checkpointDir / name;
  // Staged as step-N.incomplete-<pid>-<n> and renamed in one step: step-N never exists half-written.
  writeDirectoryAtomically(final, /*overwrite=*/true, [&](const fs::path& tmp) {
    std::vector<std::pair<std::string, torch::Tensor>> params, state;
    for (size_t g = 0; g < groups_.size(); ++g)
      for (size_t i = 0; i < groups_[g].params.size(); ++i) {
        const auto& p = groups_[g].params[i];
        params.emplace_back(p.name, p.value.detach());
        state.emplace_back(p.name + ".exp_avg", m_[g][i]);
        state.emplace_back(p.name + ".exp_avg_sq", v_[g][i]);
      }
    writeSafetensors(tmp / "params.safetensors", params);
    writeSafetensors(tmp / "optimizer.safetensors", state);
    nlohmann::json manifest = {{"format", "layerscope.train-checkpoint/1"}, {"step", step}, {"steps", opt_.steps},
                               {"seed", opt_.seed}, {"losses", history.losses}};
    if (!history.evalLosses.empty()) {
      auto& ev = manifest["eval_losses"] = nlohmann::json::array();
      for (const auto& e : history.evalLosses) ev.push_back({e.step, e.loss});
    }
    writeFileAtomically(tmp / "manifest.json", manifest.dump(1));
  });
  // Keep the newest N checkpoints. A pruned one is renamed first, so a kill during the deletion never leaves a
  // half-deleted step-N behind (the leftover is swept at the next start).
  const auto all = checkpointsIn(opt_.checkpointDir);
  for (size_t i = 0; i + size_t(std::max(1, opt_.keepCheckpoints)) < all.size(); ++i) {
    const fs::path doomed = opt_.checkpointDir / (".pruned-" + all[i].second.filename().string());
    fs::rename(all[i].second, doomed);
    removeTree(doomed);
  }
}

int64_t Trainer::loadCheckpoint(const fs::path& dir, TrainResult& history) {
  std::ifstream in(dir / "manifest.json");
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "manifest.json").string() + ": invalid JSON: " + e.what());
  }
  if (manifest.value("seed", uint64_t(0)) != opt_.seed)
    throw InvalidArgument((dir / "manifest.json").string() + ": checkpoint was made with seed " +
                          std::to_string(manifest.value("seed", uint64_t(0))) + ", this run uses " + std::to_string(opt_.seed));
  auto params = SafetensorsFile::open(dir / "params.safetensors");
  auto state = SafetensorsFile::open(dir / "optimizer.safetensors");
  torch::NoGradGuard ng;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      auto& p = groups_[g].params[i];
      auto restore = [&](torch::Tensor& dst, const std::shared_ptr<SafetensorsFile>& f, const std::string& key) {
        if (!f->contains(key)) throw CheckpointError(f->path().string() + ": missing '" + key + "'");
        auto src = f->tensor(key);
        if (src.sizes() != dst.sizes()) throw CheckpointError(f->path().string() + ": '" + key + "' has the wrong shape");
        dst.copy_(src);
      };
      restore(p.value, params, p.name);
      restore(m_[g][i], state, p.name + ".exp_avg");
      restore(v_[g][i], state, p.name + ".exp_avg_sq");
    }
  const auto step = manifest.at("step").get<int64_t>();
  history.losses = manifest.at("losses").get<std::vector<double>>();
  history.evalLosses.clear();
  try {  // absent in checkpoints of runs without a held-out loss (and before it existed)
    for (const auto& e : manifest.value("eval_losses", nlohmann::json::array()))
      if (e.at(0).get<int64_t>() <= step) history.evalLosses.push_back({e.at(0).get<int64_t>(), e.at(1).get<double>()});
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "manifest.json").string() + ": malformed eval_losses: " + e.what());
  }
  return step;
}

// Sums the gradients, the loss and the token count over ranks: one float32 all-reduce of every gradient (a
// parameter without a gradient on a rank contributes zeros) and one float64 all-reduce of [loss, tokens, and per
// parameter the number of ranks that produced a gradient]. A parameter no rank produced a gradient for stays
// without one, as in one process (the step skips it).
void Trainer::reduceOverRanks(double& lossSum, double& tokens) {
  std::vector<torch::Tensor> flat;
  std::vector<double> meta{lossSum, tokens};
  for (auto& g : groups_)
    for (auto& p : g.params) {
      const bool has = p.value.grad().defined();
      flat.push_back(has ? p.value.grad().reshape({-1}) : torch::zeros({p.value.numel()}, p.value.options()));
      meta.push_back(has ? 1.0 : 0.0);
    }
  torch::Tensor grads = flat.empty() ? torch::zeros({0}, torch::kFloat32) : torch::cat(flat);
  auto m = torch::tensor(meta, torch::kFloat64);
  opt_.parallel.allReduceSum(grads);
  opt_.parallel.allReduceSum(m);
  const auto ma = m.accessor<double, 1>();
  lossSum = ma[0];
  tokens = ma[1];
  int64_t offset = 0, k = 2;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      const int64_t n = p.value.numel();
      if (ma[k++] > 0) p.value.mutable_grad() = grads.slice(0, offset, offset + n).reshape(p.value.sizes()).clone();
      offset += n;
    }
}

// Rank 0 has read the checkpoint (or found none: step 0); every rank gets its step, loss history, parameters and
// optimizer moments, so a checkpoint of any world size resumes in any other.
int64_t Trainer::shareResumedState(int64_t start, TrainResult& history) {
  const auto& dp = opt_.parallel;
  auto head = torch::tensor({double(start), double(history.losses.size()), double(history.evalLosses.size())},
                            torch::kFloat64);
  dp.broadcast(head);
  start = int64_t(head[0].item<double>());
  const int64_t n = int64_t(head[1].item<double>()), ne = int64_t(head[2].item<double>());
  if (start == 0) return 0;
  // One float64 broadcast: the step losses, then (step, loss) of every held-out point.
  std::vector<double> flatHist = history.losses;
  for (const auto& e : history.evalLosses) flatHist.insert(flatHist.end(), {double(e.step), e.loss});
  auto hist = dp.rank == 0 ? torch::tensor(flatHist, torch::kFloat64) : torch::zeros({n + 2 * ne}, torch::kFloat64);
  dp.broadcast(hist);
  const double* h = hist.data_ptr<double>();
  history.losses.assign(h, h + n);
  history.evalLosses.clear();
  for (int64_t i = 0; i < ne; ++i) history.evalLosses.push_back({int64_t(h[n + 2 * i]), h[n + 2 * i + 1]});
  torch::NoGradGuard ng;
  std::vector<torch::Tensor*> all;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      all.insert(all.end(), {&groups_[g].params[i].value, &m_[g][i], &v_[g][i]});
  std::vector<torch::Tensor> flat;
  for (auto* t : all) flat.push_back(t->detach().reshape({-1}));
  auto state = flat.empty() ? torch::zeros({0}, torch::kFloat32) : torch::cat(flat);
  dp.broadcast(state);
  int64_t offset = 0;
  for (auto* t : all) {
    t->copy_(state.slice(0, offset, offset + t->numel()).view(t->sizes()));
    offset += t->numel();
  }
  return start;
}

// The held-out loss over every rank: sum of per-token losses / token count (NaN when there are no tokens).
double Trainer::heldOutLoss() {
  torch::NoGradGuard ng;
  const auto [sum, count] = opt_.evalLoss();
  auto t = torch::tensor({sum, count}, torch::kFloat64);
  if (opt_.parallel.distributed()) opt_.parallel.allReduceSum(t);
  const double tokens = t[1].item<double>();
  return tokens > 0 ? t[0].item<double>() / tokens : std::numeric_limits<double>::quiet_NaN();
}

TrainResult Trainer::run(const LossFn& lossFn, const std::function<void(const StepReport&)>& onStep, const JobControl* job,
                         bool resume) {
  using Clock = std::chrono::steady_clock;
  TrainResult result;
  int64_t start = 0;
  const DataParallel& dp = opt_.parallel;
  const bool writer = dp.rank == 0;  // the one rank that touches the checkpoint folder
  if (dp.distributed() && (!dp.allReduceSum || !dp.broadcast))
    throw InvalidArgument("data-parallel training needs the all-reduce and broadcast of the process group");
  if (writer) sweepCheckpointDir(opt_.checkpointDir);
  if (resume && writer && !opt_.checkpointDir.empty()) {
    const fs::path ck = newestCheckpoint(opt_.checkpointDir);
    if (!ck.empty()) start = result.resumedFromStep = loadCheckpoint(ck, result);
  }
  if (resume && dp.distributed()) start = result.resumedFromStep = shareResumedState(start, result);
  const auto t0 = Clock::now();
  double tokensSeen = 0;
  for (int64_t step = start; step < opt_.steps; ++step) {
    checkCancelled(job);
    for (auto& g : groups_)
      for (auto& p : g.params)
        if (p.value.grad().defined()) p.value.mutable_grad().zero_();
    double lossSum = 0, tokens = 0;
    for (int micro = 0; micro < opt_.gradAccum; ++micro) {
      // Seed per micro-batch so dropout draws depend only on (seed, step, micro): resume is exact.
      // A data-parallel rank > 0 draws its own stream for its rows (rank 0 draws the single-process one).
      torch::manual_seed(opt_.seed * 1000003ULL + uint64_t(step) * 64ULL + uint64_t(micro) +
                         uint64_t(dp.rank) * 0x9e3779b97f4a7c15ULL);
      auto [loss, n] = lossFn(step, micro);
      if (!torch::isfinite(loss).item<bool>())
        throw Error("training diverged: loss is " + std::to_string(loss.item<double>()) + " at step " + std::to_string(step + 1) +
                    " (try a lower learning rate)");
      (loss / double(opt_.gradAccum)).backward();
      lossSum += loss.item<double>();
      tokens += n;
    }
    torch::NoGradGuard ng;
    if (dp.distributed()) reduceOverRanks(lossSum, tokens);
    double sq = 0;
    for (auto& g : groups_)
      for (auto& p : g.params)
        if (p.value.grad().defined()) sq += p.value.grad().pow(2).sum().item<double>();
    const double gradNorm = std::sqrt(sq);
    const double clip = (opt_.clipNorm > 0 && gradNorm > opt_.clipNorm) ? opt_.clipNorm / (gradNorm + 1e-6) : 1.0;
    const double factor = lrFactor(opt_, step);
    const double t = double(step + 1);
    const double bc1 = 1.0 - std::pow(opt_.beta1, t), bc2 = 1.0 - std::pow(opt_.beta2, t);
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      auto& g = groups_[gi];
      const double lr = g.lr * factor;
      for (size_t i = 0; i < g.params.size(); ++i) {
        auto& p = g.params[i].value;
        if (!p.grad().defined()) continue;
        torch::Tensor grad = p.grad() * clip;
        if (g.weightDecay > 0) p.mul_(1.0 - lr * g.weightDecay);
        m_[gi][i].mul_(opt_.beta1).add_(grad, 1.0 - opt_.beta1);
        v_[gi][i].mul_(opt_.beta2).addcmul_(grad, grad, 1.0 - opt_.beta2);
        torch::Tensor denom = (v_[gi][i] / bc2).sqrt_().add_(opt_.eps);
        p.addcdiv_(m_[gi][i], denom, -lr / bc1);
        if (g.project) g.project(p);
      }
    }
    result.losses.push_back(lossSum / opt_.gradAccum);
    tokensSeen += tokens;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    StepReport r;
    r.step = step + 1;
    r.totalSteps = opt_.steps;
    r.loss = result.losses.back();
    r.lr = groups_.empty() ? 0 : groups_[0].lr * factor;
    r.gradNorm = gradNorm;
    r.tokens = tokens;
    r.tokensPerSecond = tokensSeen / std::max(elapsed, 1e-9);
    r.etaSeconds = elapsed / double(step + 1 - start) * double(opt_.steps - step - 1);
    // The held-out loss runs after the update and before the checkpoint, so the checkpoint carries its point. It
    // uses no random numbers (no dropout), and every micro-batch reseeds torch's generator: the trained
    // parameters are the same with or without it.
    if (opt_.evalLoss && opt_.evalEvery > 0 && ((step + 1) % opt_.evalEvery == 0 || step + 1 == opt_.steps)) {
      r.evalLoss = heldOutLoss();
      result.evalLosses.push_back({step + 1, r.evalLoss});
    }
    if (onStep) onStep(r);
    reportProgress(job, {"train", double(step + 1), double(opt_.steps)});
    if (writer && ((opt_.checkpointEvery > 0 && (step + 1) % opt_.checkpointEvery == 0) || step + 1 == opt_.steps))
      saveCheckpoint(step + 1, result);
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace layerscope::core
