// The spin boxes every panel builds its option forms from: range, value (and decimals / step) in one call.
// They take the mouse wheel only when focused: a wheel turned over an unfocused spin box (or combo box) while
// the user scrolls a dock scrolls the dock and leaves the value alone (guardWheel).
#pragma once

#include <QAbstractSpinBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QSpinBox>
#include <QVariant>

namespace layerscope::app {

/// Installed on one widget: a wheel event that reaches it while it lacks focus goes to its parent instead (the
/// scroll area around the form scrolls); with focus the widget handles it as usual.
class WheelOnlyWhenFocused : public QObject {
 public:
  using QObject::QObject;
  bool eventFilter(QObject* watched, QEvent* e) override {
    if (e->type() != QEvent::Wheel) return false;
    auto* w = qobject_cast<QWidget*>(watched);
    if (!w || w->hasFocus()) return false;
    if (QWidget* parent = w->parentWidget()) QCoreApplication::sendEvent(parent, e);
    return true;
  }
};

/// Strong focus (Tab / click, not the wheel) and the wheel guard; idempotent.
inline void guardWheel(QWidget* w) {
  if (w->property("layerscopeWheelGuard").toBool()) return;
  w->setProperty("layerscopeWheelGuard", true);
  w->setFocusPolicy(Qt::StrongFocus);
  w->installEventFilter(new WheelOnlyWhenFocused(w));
}

/// guardWheel on every spin box and combo box under `root`.
inline void guardWheelUnder(QWidget* root) {
  for (QAbstractSpinBox* s : root->findChildren<QAbstractSpinBox*>()) guardWheel(s);
  for (QComboBox* c : root->findChildren<QComboBox*>()) guardWheel(c);
}

inline QSpinBox* intSpin(int lo, int hi, int value) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  s->setValue(value);
  guardWheel(s);
  return s;
}

inline QDoubleSpinBox* doubleSpin(double lo, double hi, int decimals, double value, double step) {
  auto* s = new QDoubleSpinBox;
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setValue(value);
  guardWheel(s);
  return s;
}

}  // namespace layerscope::app
