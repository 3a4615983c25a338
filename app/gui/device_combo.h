// The device selector of the analysis and training panels: "cpu" plus one "cuda:N" per visible CUDA device,
// preselecting the default (cuda:0 when the LibTorch has CUDA and a device is visible, else cpu). docs/gpu.md.
#pragma once

#include <QComboBox>
#include <QString>

#include "core/model/runtime.h"

namespace layerscope::app {

inline QComboBox* makeDeviceCombo() {
  auto* combo = new QComboBox;
  combo->addItem(QStringLiteral("cpu"));
  for (int i = 0; i < core::cudaDeviceCount(); ++i) combo->addItem(QStringLiteral("cuda:%1").arg(i));
  combo->setCurrentIndex(combo->count() > 1 ? 1 : 0);
  combo->setToolTip(core::cudaCompiled()
                        ? QObject::tr("Where the model runs (a CUDA device, or the CPU)")
                        : QObject::tr("Where the model runs: this build's LibTorch has no CUDA, so only the CPU "
                                      "(docs/gpu.md builds against a CUDA LibTorch)"));
  return combo;
}

}  // namespace layerscope::app
