// Pretraining recipes for LayerScope's own model organisms. "demo": a 12-layer 4:1 GQA byte-level Llama trained
// from scratch on the synthetic task suite (core/data/task_suite.h) with the shared Trainer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/model/config.h"
#include "core/base/job_control.h"
#include "core/data/task_suite.h"
#include "core/train/trainer.h"

namespace layerscope::core {

struct PretrainOptions {
  std::string recipe = "demo";
  uint64_t seed = 1234;      ///< weights init, data stream and dropout
  int64_t steps = 0;         ///< 0: the recipe's default
  int64_t batchRows = 0;     ///< 0: the recipe's default (rows of `context` tokens per step)
  double lr = 0;             ///< 0: the recipe's default peak lr
  int64_t checkpointEvery = 200;
  bool resume = false;
};

struct PretrainRecipe {
  ModelConfig config;
  int64_t context = 128;        ///< tokens per packed row
  int64_t batchRows = 32;
  int64_t steps = 4000;
  int64_t warmup = 100;
  double lr = 3e-3;
  double weightDecay = 0.1;     ///< matrices only; norms get none
  double promptLossWeight = 0.1;///< completion tokens weigh 1, prompt tokens this much, BOS targets 0
  TrainingMix mix = TrainingMix::demo();  ///< family weights of the training text
};

PretrainRecipe pretrainRecipe(const std::string& name);

/// Trains and writes an HF model directory to `out` (config.json, model.safetensors, tokenizer.json,
/// tokenizer_config.json, training_log.json); checkpoints go to out/../<name>.checkpoints. Returns the log.
nlohmann::json pretrain(const std::filesystem::path& out, const PretrainOptions& opt,
                        const std::function<void(const StepReport&)>& onStep = {}, const JobControl* job = nullptr);

}  // namespace layerscope::core
