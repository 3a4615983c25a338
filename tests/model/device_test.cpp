// Device selection (core/model/runtime.h), loading a checkpoint onto a device tensor by tensor
// (Checkpoint::load, LlamaModel::fromCheckpoint) and the device-independent random draws (dropout masks).
// Only the CPU is exercised here; scripts/device-check.sh runs the same binaries with a CUDA LibTorch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <malloc.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/base/error.h"
#include "core/base/splitmix64.h"
#include "core/model/checkpoint.h"
#include "core/model/dropout.h"
#include "core/model/model.h"
#include "core/model/random_checkpoint.h"
#include "core/model/runtime.h"
#include "core/model/safetensors.h"
#include "core/model/torch_compat.h"
#include "tests/common/test_util.h"
#include "tests/common/tiny_model.h"

namespace lc = layerscope::core;
using layerscope::InvalidArgument;

namespace {

std::string errorOf(const std::string& device) {
  try {
    lc::parseDevice(device);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Device, ParsesNamesAndRejectsMalformedOnes) {
  EXPECT_TRUE(lc::parseDevice("cpu").is_cpu());
  EXPECT_EQ(lc::deviceName(lc::parseDevice("cpu")), "cpu");
  EXPECT_EQ(lc::deviceName(lc::parseDevice("auto")), lc::defaultDeviceName() == "cpu" ? "cpu" : "cuda:0");
  for (const char* bad : {"gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:1:2", "", "cpu:0", "cuda0"}) {
    const std::string e = errorOf(bad);
    EXPECT_FALSE(e.empty()) << bad;
    EXPECT_NE(e.find(std::string("'") + bad + "'"), std::string::npos) << e;  // the message quotes the input
  }
  EXPECT_NE(errorOf("gpu").find("expected cpu, cuda, cuda:N or auto"), std::string::npos);
}

TEST(Device, DefaultIsCudaExactlyWhenADeviceIsVisible) {
  EXPECT_EQ(lc::defaultDeviceName(), lc::cudaDeviceCount() > 0 ? "cuda" : "cpu");
  if (!lc::cudaCompiled()) {
    EXPECT_EQ(lc::cudaDeviceCount(), 0);
  }
}

TEST(Device, FusedAttentionOnlyOnCudaWithALibTorchThatHasIt) {
  // The CPU always takes the eager path (transformers' eager numerics); CUDA takes the fused kernels exactly when
  // this LibTorch has them (2.1+) and LAYERSCOPE_ATTENTION does not say eager (docs/gpu.md).
  EXPECT_FALSE(lc::usesFusedAttention(lc::hostDevice()));
  const char* env = std::getenv("LAYERSCOPE_ATTENTION");
  const bool eager = env && std::string(env) == "eager";
  EXPECT_EQ(lc::usesFusedAttention(c10::Device(c10::kCUDA, 0)), lc::compat::kHasFusedAttention && !eager);
}

TEST(Device, UnavailableCudaIsAClearError) {
  const int n = lc::cudaDeviceCount();
  // An index past the visible devices fails on every build and machine.
  const std::string past = errorOf("cuda:" + std::to_string(n + 3));
  ASSERT_FALSE(past.empty());
  EXPECT_NE(past.find("unavailable"), std::string::npos) << past;
  if (!lc::cudaCompiled()) {  // Debian's CPU-only LibTorch (this machine)
    for (const char* d : {"cuda", "cuda:0"}) {
      const std::string e = errorOf(d);
      EXPECT_NE(e.find("built without CUDA"), std::string::npos) << e;
      EXPECT_NE(e.find("--device cpu"), std::string::npos) << e;
      EXPECT_NE(e.find("docs/gpu.md"), std::string::npos) << e;
    }
  } else if (n == 0) {
    EXPECT_NE(errorOf("cuda").find("no CUDA device is visible"), std::string::npos);
  } else {
    EXPECT_TRUE(lc::parseDevice("cuda").is_cuda());
    EXPECT_NE(past.find("visible"), std::string::npos) << past;
  }
}

TEST(Device, ModelAndCapturesReportTheirDevices) {
  layerscope::test::TinyByteModel tiny(layerscope::test::byteConfig(), {});
  auto model = lc::LlamaModel::load(tiny.dir(), torch::kFloat32, lc::parseDevice("cpu"));
  EXPECT_TRUE(model->device().is_cpu());
  EXPECT_TRUE(model->options(torch::kBool).device().is_cpu());
  c10::InferenceMode guard;
  lc::ForwardInput in;
  in.inputIds = torch::tensor({{1, 2, 3, 4}}, torch::kInt64);
  lc::TensorCapture cap;
  cap.request(1, lc::Site::ResidPost).keepPositions(torch::tensor({3}, torch::kInt64));
  auto out = model->forward(in, nullptr, &cap);
  EXPECT_TRUE(cap.get(1, lc::Site::ResidPost).device().is_cpu());  // captures come back to the host
  EXPECT_EQ(cap.get(1, lc::Site::ResidPost).sizes(), (std::vector<int64_t>{1, model->config().hiddenSize}));
  EXPECT_EQ(out.logits.device(), model->device());
}

// ---- Loading tensor by tensor --------------------------------------------------------------------------------

TEST(DeviceLoad, CheckpointLoadAliasesOrCopiesAndKeepsTheMappingIntact) {
  layerscope::test::TempDir dir;
  lc::RandomCheckpointOptions opt;
  opt.seed = 5;
  lc::writeRandomCheckpoint(dir.path(), layerscope::test::byteConfig(), opt);
  const auto ck = lc::Checkpoint::open(dir.path());
  const std::string name = lc::hfProjPrefix(1, lc::Proj::Gate) + ".weight";
  const torch::Tensor view = ck.tensor(name);
  const auto host = lc::hostDevice();
  // Stored dtype on the host: the mapping itself.
  EXPECT_EQ(ck.load(name, torch::kFloat32, host).data_ptr(), view.data_ptr());
  // Another dtype: a copy, equal to the conversion, after which the mapping (its pages released) reads the same.
  const torch::Tensor before = view.clone();
  const torch::Tensor bf = ck.load(name, torch::kBFloat16, host);
  EXPECT_NE(bf.data_ptr(), view.data_ptr());
  EXPECT_TRUE(torch::equal(bf, before.to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(ck.tensor(name), before));
  EXPECT_TRUE(torch::equal(ck.load(name, torch::kFloat64, host), before.to(torch::kFloat64)));
}

namespace {

long long statusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  return -1;
}

bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";  // resets VmHWM to the current RSS (Linux >= 4.0)
  f.flush();
  return bool(f);
}

// Starts a peak measurement: resets VmHWM and returns the resident KiB it starts from, or -1 when
// /proc/self/clear_refs cannot be written. The resident count can drop in one step just after the reset (in CI, and
// here about once in 20 runs, by the 64 MiB an earlier measurement had freed), which would read as growth; so freed
// heap is handed back first, and the reset is repeated until the high-water mark and the resident count agree. A
// drop after that only lowers the growth measured, never raises it.
long long startPeak() {
  long long rss = -1;
  for (int attempt = 0; attempt < 50; ++attempt) {
    malloc_trim(0);
    if (!resetPeakRss()) return -1;
    rss = statusKb("VmRSS");
    if (statusKb("VmHWM") - rss <= 256) return rss;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return rss;
}

// The peak RSS growth (bytes) while loading `dir` for `dtype` on the host, and the bytes the weights then hold.
std::pair<double, double> loadPeak(const std::filesystem::path& dir, torch::ScalarType dtype) {
  const auto ck = lc::Checkpoint::open(dir);
  const long long before = startPeak();
  if (before < 0) return {-1, -1};
  auto model = lc::LlamaModel::fromCheckpoint(ck, dtype, lc::hostDevice());
  const long long peak = statusKb("VmHWM");
  double held = 0;
  for (const auto& [name, t] : model->namedWeights()) held += double(t.nbytes());
  return {double(peak - before) * 1024.0, held};
}

// A 70 MB float32 checkpoint whose largest tensor is 3 MiB: big enough that one tensor and the whole file differ.
layerscope::test::TinyShape mediumShape() {
  layerscope::test::TinyShape shape;
  shape.hidden = 512, shape.intermediate = 1536, shape.layers = 6, shape.heads = 8, shape.kvHeads = 2, shape.headDim = 64;
  return shape;
}

// The control: every tensor converted straight from the mapping, its pages left mapped.
double naivePeak(const std::filesystem::path& dir, torch::ScalarType dtype) {
  const auto ck = lc::Checkpoint::open(dir);
  const long long before = startPeak();
  if (before < 0) return -1;
  std::vector<torch::Tensor> kept;
  for (const auto& [name, shape] : lc::Checkpoint::expectedTensors(ck.config())) kept.push_back(ck.tensor(name).to(dtype));
  return double(statusKb("VmHWM") - before) * 1024.0;
}

}  // namespace

// Loading onto a device goes tensor by tensor: with the CPU as the target and a dtype conversion (so every tensor
// is copied out of the mapping, as it is for a GPU), the peak host memory is the converted weights plus about one
// stored tensor, not the weights plus the whole mapped file.
TEST(DeviceLoad, PeakHostMemoryStaysNearTheLargestTensor) {
  const auto shape = mediumShape();
  const auto config = layerscope::test::byteConfig(shape);
  layerscope::test::TempDir f32Dir, bf16Dir;
  lc::RandomCheckpointOptions opt;
  lc::writeRandomCheckpoint(f32Dir.path(), config, opt);
  opt.storedDtype = lc::StDtype::BF16;
  lc::writeRandomCheckpoint(bf16Dir.path(), config, opt);
  const double largest = 4.0 * shape.intermediate * shape.hidden;  // gate/up/down in F32: 3 MiB
  const double fileF32 = double(lc::Checkpoint::open(f32Dir.path()).fileBytes());
  ASSERT_GT(fileF32, 20 * largest);  // the file is far bigger than one tensor, so the bound below means something
  const double slack = 6.0 * 1024 * 1024;

  // F32 file -> bfloat16 weights: every tensor converted on its own, its mapped pages dropped after the copy.
  auto [grow, held] = loadPeak(f32Dir.path(), torch::kBFloat16);
  if (grow < 0) GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
  const double mib = 1048576;
  std::cout << "[ figures  ] F32 file " << fileF32 / mib << " MiB, largest tensor " << largest / mib
            << " MiB; load to bfloat16: weights " << held / mib << " MiB, peak RSS growth " << grow / mib << " MiB\n";
  EXPECT_NEAR(held, fileF32 / 2, 0.01 * fileF32);
  EXPECT_LT(grow, held + 2 * largest + slack) << "peak growth " << grow / mib << " MiB for " << held / mib
                                               << " MiB of weights from a " << fileF32 / mib << " MiB file";
  // The measurement can see the difference: converting from a mapping whose pages stay resident peaks at least at
  // the whole file. (Not "weights plus file": the allocator may hand the converted tensors memory that the first
  // load freed and that is still resident, as it did in CI, so only the mapped pages are a dependable floor.)
  const double naive = naivePeak(f32Dir.path(), torch::kBFloat16);
  std::cout << "[ figures  ] same conversion without releasing the mapping's pages: peak RSS growth " << naive / mib
            << " MiB\n";
  EXPECT_GT(naive, 0.8 * fileF32);
  EXPECT_GT(naive, held + 2 * largest + slack) << "the control should break the bound the real load met";

  // BF16 file -> float32 weights (widening after the transfer).
  std::tie(grow, held) = loadPeak(bf16Dir.path(), torch::kFloat32);
  std::cout << "[ figures  ] BF16 file -> float32: weights " << held / mib << " MiB, peak RSS growth " << grow / mib
            << " MiB\n";
  EXPECT_NEAR(held, fileF32, 0.01 * fileF32);
  EXPECT_LT(grow, held + 2 * largest + slack) << "peak growth " << grow / mib << " MiB";

  // Stored dtype = compute dtype on the host: the weights alias the mapping, nothing is read or copied.
  std::tie(grow, held) = loadPeak(f32Dir.path(), torch::kFloat32);
  std::cout << "[ figures  ] F32 file -> float32 (aliased): peak RSS growth " << grow / mib << " MiB\n";
  EXPECT_LT(grow, slack) << "peak growth " << grow / mib << " MiB";
}

// ---- Writing a checkpoint tensor by tensor ---------------------------------------------------------------------

// writeRandomCheckpoint streams: each tensor is drawn, converted and written before the next, so making a file
// many times larger than its largest tensor peaks near that tensor (the 16 GB Llama 3.1 8B shape on a 24 GiB
// machine), and the values do not depend on the sharding.
TEST(CheckpointWrite, StreamsTensorByTensorAndShardingDoesNotChangeTheValues) {
  const auto shape = mediumShape();
  const auto config = layerscope::test::byteConfig(shape);
  layerscope::test::TempDir one, three;
  lc::RandomCheckpointOptions opt;
  opt.seed = 11;
  const long long before = startPeak();
  if (before < 0) GTEST_SKIP() << "/proc/self/clear_refs is not writable here";
  lc::writeRandomCheckpoint(one.path(), config, opt);
  const double grow = double(statusKb("VmHWM") - before) * 1024.0;
  const double largest = 4.0 * shape.intermediate * shape.hidden;  // 3 MiB in F32
  const auto ck = lc::Checkpoint::open(one.path());
  const double file = double(ck.fileBytes());
  std::cout << "[ figures  ] wrote a " << file / 1048576 << " MiB checkpoint, peak RSS growth " << grow / 1048576
            << " MiB (largest tensor " << largest / 1048576 << " MiB)\n";
  ASSERT_GT(file, 20 * largest);
  EXPECT_LT(grow, 4 * largest + 8.0 * 1024 * 1024);

  opt.shards = 3;
  lc::writeRandomCheckpoint(three.path(), config, opt);
  const auto ck3 = lc::Checkpoint::open(three.path());
  EXPECT_TRUE(std::filesystem::exists(three.path() / "model-00003-of-00003.safetensors"));
  for (const auto& [name, s] : lc::Checkpoint::expectedTensors(config))
    ASSERT_TRUE(torch::equal(ck.tensor(name), ck3.tensor(name))) << name;
}

TEST(CheckpointWrite, StreamedTensorOfTheWrongShapeIsAnErrorAndLeavesNoFile) {
  layerscope::test::TempDir dir;
  const auto path = dir.path() / "x.safetensors";
  std::vector<lc::StreamedTensor> tensors{{"a", lc::StDtype::BF16, {2, 3}, [] { return torch::ones({2, 3}); }},
                                          {"b", lc::StDtype::F32, {4}, [] { return torch::ones({5}); }}};
  try {
    lc::writeSafetensorsStreaming(path, tensors);
    ADD_FAILURE() << "accepted a tensor of the wrong shape";
  } catch (const layerscope::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'b' was made with shape [5], declared [4]"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  tensors[1].make = [] { return torch::arange(4, torch::kFloat32); };
  lc::writeSafetensorsStreaming(path, tensors);
  auto f = lc::SafetensorsFile::open(path);
  EXPECT_EQ(f->entry("a").dtype, lc::StDtype::BF16);
  EXPECT_EQ(f->entry("b").shape, (std::vector<int64_t>{4}));
}

// ---- Reproducible random draws -----------------------------------------------------------------------------

// The GPU computes dropout masks with int64 tensor operations, the CPU with a host loop: same bits for a seed.
TEST(DeviceRandom, DropoutMaskIsTheSameOnEveryComputePath) {
  const auto host = lc::hostDevice();
  for (double p : {0.0, 0.05, 0.5, 0.9}) {
    for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(0x8000000000000001ULL), uint64_t(123456789012345ULL)}) {
      for (std::vector<int64_t> shape : {std::vector<int64_t>{1}, {3, 5}, {2, 7, 33}, {4097}}) {
        auto a = lc::dropoutKeepScaleSeeded(shape, p, seed, host, lc::MaskPath::HostLoop);
        auto b = lc::dropoutKeepScaleSeeded(shape, p, seed, host, lc::MaskPath::TensorOps);
        ASSERT_EQ(a.sizes(), b.sizes());
        ASSERT_TRUE(torch::equal(a, b)) << "p " << p << " seed " << seed << " numel " << a.numel();
      }
    }
  }
  // Independent check of one element against the scalar generator: element 6 is block 1, bits 32..47.
  const uint64_t seed = 99;
  const uint64_t bits = lc::splitmix64(seed ^ lc::splitmix64(1));
  const bool dropped = ((bits >> 32) & 0xffff) < 32768;
  auto m = lc::dropoutKeepScaleSeeded({8}, 0.5, seed, host, lc::MaskPath::TensorOps);
  EXPECT_EQ(m[6].item<float>(), dropped ? 0.0f : 2.0f);
}

TEST(DeviceRandom, SeededMaskIsTheSameOnEveryDevice) {
  torch::manual_seed(17);
  auto a = lc::dropoutKeepScale({64, 33}, 0.2, lc::hostDevice());
  torch::manual_seed(17);
  auto b = lc::dropoutKeepScale({64, 33}, 0.2, lc::parseDevice("auto"));  // cuda when this build has it
  EXPECT_TRUE(torch::equal(a, b.to(lc::hostDevice())));
}

// ---- The same computation on a CUDA device (skipped where none is visible: CI, Debian's CPU LibTorch) ----------

// float32 on the GPU against float32 on the CPU: logits, captured states (returned on the host), the RoPE, skip and
// replacement interventions, and the gradient of the loss with respect to per-KV-head RoPE log-multipliers.
TEST(DeviceCuda, ForwardCapturesInterventionsAndGradientsMatchTheCpu) {
  if (lc::cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device visible (" << lc::defaultDeviceName() << ")";
  layerscope::test::TinyShape shape;
  shape.hidden = 64, shape.intermediate = 128, shape.layers = 3, shape.heads = 8, shape.kvHeads = 2, shape.headDim = 8;
  layerscope::test::TinyByteModel tiny(layerscope::test::byteConfig(shape), {});
  const auto cpu = lc::LlamaModel::load(tiny.dir(), torch::kFloat32, lc::parseDevice("cpu"));
  const auto gpu = lc::LlamaModel::load(tiny.dir(), torch::kFloat32, lc::parseDevice("cuda"));
  ASSERT_TRUE(gpu->device().is_cuda());

  const int64_t B = 2, T = 9, G = shape.kvHeads, L = shape.layers;
  torch::manual_seed(3);
  const auto ids = torch::randint(0, 256, {B, T}, torch::kInt64);
  auto mask = torch::ones({B, T}, torch::kInt64);
  mask[1].narrow(0, 0, 3).zero_();  // left padding in row 1
  const auto values = torch::randn({B, T, shape.hidden});
  const auto beta0 = 0.3 * torch::randn({L, G});

  struct Run {
    torch::Tensor logits, gradBeta;
    std::vector<torch::Tensor> states;
  };
  auto run = [&](const std::shared_ptr<const lc::LlamaModel>& m) {
    const auto dev = m->device();
    lc::ForwardInput in;
    in.inputIds = ids.to(dev);
    in.attentionMask = mask.to(dev);
    lc::TensorCapture cap;
    for (lc::Site s : {lc::Site::ResidPre, lc::Site::ResidPost, lc::Site::Q}) cap.requestAllLayers(s, int(L));
    auto beta = beta0.to(dev).clone().requires_grad_(true);
    lc::Interventions iv;
    for (int64_t l = 0; l < L; ++l) iv.ropeAlpha.push_back(beta[l].exp());
    iv.skipMlp = {false, false, true};
    lc::StateReplacement r;
    r.layer = 1;
    r.mask = torch::zeros({B, T}, torch::kBool);
    r.mask[0][4] = true;
    r.mask = r.mask.to(dev);
    r.values = values.to(dev);
    iv.replacements.push_back(r);
    auto out = m->forward(in, &iv, &cap);
    auto logp = torch::log_softmax(out.logits.narrow(1, 0, T - 1), -1);
    auto loss = -logp.gather(-1, in.inputIds.narrow(1, 1, T - 1).unsqueeze(-1)).mean();
    loss.backward();
    Run res{out.logits.detach().cpu(), beta.grad().cpu(), {}};
    for (int64_t l = 0; l < L; ++l)
      for (lc::Site s : {lc::Site::ResidPre, lc::Site::ResidPost, lc::Site::Q}) {
        EXPECT_TRUE(cap.get(l, s).device().is_cpu()) << "captures come back to the host";
        res.states.push_back(cap.get(l, s).cpu());
      }
    return res;
  };
  const Run a = run(cpu), b = run(gpu);
  auto rel = [](const torch::Tensor& x, const torch::Tensor& ref) {
    return ((x - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item<double>();
  };
  std::cout << "[ figures  ] cuda vs cpu, float32: logits rel " << rel(b.logits, a.logits) << ", RoPE gradient rel "
            << rel(b.gradBeta, a.gradBeta) << "\n";
  EXPECT_LT(rel(b.logits, a.logits), 1e-4);
  EXPECT_LT(rel(b.gradBeta, a.gradBeta), 1e-3);
  EXPECT_GT(a.gradBeta.abs().max().item<double>(), 0.0);
  ASSERT_EQ(a.states.size(), b.states.size());
  for (size_t i = 0; i < a.states.size(); ++i) EXPECT_LT(rel(b.states[i], a.states[i]), 1e-4) << "capture " << i;
}

// core/model/runtime.cpp sets OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 before the libraries read them
// (lent environment entries in .preinit_array), unless this process was started with its own value. The start-up
// environment is /proc/self/environ: the strings the process was executed with, whatever was lent since.
TEST(Runtime, ThreadPoolsSleepInsteadOfSpinningUnlessTheUserSaysOtherwise) {
  std::ifstream f("/proc/self/environ", std::ios::binary);
  std::vector<std::string> started;
  for (std::string e; std::getline(f, e, '\0');) started.push_back(e);
  auto given = [&started](const std::string& prefix) -> const std::string* {
    for (const auto& e : started)
      if (e.rfind(prefix, 0) == 0) return &e;
    return nullptr;
  };
  if (!given("_=") && !given("PWD=") && !given("SHLVL=") && !given("OLDPWD="))
    GTEST_SKIP() << "started without an environment entry to lend (env -i): runtime.cpp sets nothing then";
  for (const auto& [name, ours] : {std::pair<std::string, std::string>{"OMP_WAIT_POLICY", "PASSIVE"},
                                   {"OPENBLAS_THREAD_TIMEOUT", "4"}}) {
    const std::string* user = given(name + "=");
    const char* now = std::getenv(name.c_str());
    ASSERT_NE(now, nullptr) << name;
    EXPECT_EQ(std::string(now), user ? user->substr(name.size() + 1) : ours) << name;
  }
  // The bounded spin only where the user chose neither the policy nor the spin count (ctest runs with the user's
  // PASSIVE from scripts/test.sh: then it stays unset, or the user's). A third lendable entry is needed for it.
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  if (const std::string* user = given("GOMP_SPINCOUNT=")) {
    ASSERT_NE(spin, nullptr);
    EXPECT_EQ(std::string(spin), user->substr(15));
  } else if (given("OMP_WAIT_POLICY=")) {
    EXPECT_EQ(spin, nullptr) << "an explicit OMP_WAIT_POLICY means no lent spin count";
  } else if (spin) {
    EXPECT_EQ(std::string(spin), "10000");
  }
}
