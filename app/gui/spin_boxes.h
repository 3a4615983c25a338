// The spin boxes every panel builds its option forms from: range, value (and decimals / step) in one call.
#pragma once

#include <QDoubleSpinBox>
#include <QSpinBox>

namespace layerscope::app {

inline QSpinBox* intSpin(int lo, int hi, int value) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  s->setValue(value);
  return s;
}

inline QDoubleSpinBox* doubleSpin(double lo, double hi, int decimals, double value, double step) {
  auto* s = new QDoubleSpinBox;
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setValue(value);
  return s;
}

}  // namespace layerscope::app
