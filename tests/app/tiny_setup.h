// Shared by the app tests that run real jobs: a tiny random model (preset "tiny", 2 layers, byte-level
// tokenizer) and a 6-item two-choice task, small enough that a training step takes milliseconds.
#pragma once

#include <QString>
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/model/random_checkpoint.h"
#include "core/text/byte_tokenizer.h"

namespace layerscope::apptest {

inline void writeTinyModel(const QString& dir, std::uint64_t seed) {
  core::writeRandomCheckpoint(dir.toStdString(), core::presetConfig("tiny"), {.seed = seed, .weightStd = 0.3});
  core::writeByteLevelTokenizer(dir.toStdString());
}

inline void writeTinyTask(const QString& file) {
  std::vector<core::McItem> items;
  for (int i = 0; i < 6; ++i) {
    const std::string a(1, char('a' + i)), b(1, char('k' + i));
    items.push_back({"t-" + std::to_string(i), "copy: " + a + b + " A:", {" " + a + b, " " + b + a}, size_t(i % 2)});
  }
  core::writeTask(file.toStdString(), core::Task{"tiny.mc", items, {}, {}});
}

}  // namespace layerscope::apptest
