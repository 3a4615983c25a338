#include "app/gui/widget_state.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLineEdit>
#include <QSpinBox>
#include <cmath>

namespace layerscope::app {

QJsonObject widgetValues(const QList<SettingWidget>& widgets) {
  QJsonObject o;
  for (const SettingWidget& s : widgets) {
    if (auto* e = qobject_cast<QLineEdit*>(s.widget)) o.insert(s.key, e->text());
    else if (auto* i = qobject_cast<QSpinBox*>(s.widget)) o.insert(s.key, i->value());
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(s.widget)) o.insert(s.key, d->value());
    else if (auto* c = qobject_cast<QCheckBox*>(s.widget)) o.insert(s.key, c->isChecked());
    else if (auto* b = qobject_cast<QComboBox*>(s.widget)) o.insert(s.key, b->currentText());
  }
  return o;
}

void applyWidgetValues(const QList<SettingWidget>& widgets, const QJsonObject& values, const QString& prefix,
                       QStringList& problems) {
  for (const SettingWidget& s : widgets) {
    if (!values.contains(s.key)) continue;
    const QJsonValue v = values.value(s.key);
    const QString where = prefix.isEmpty() ? s.key : prefix + QLatin1Char('.') + s.key;
    auto wrong = [&](const QString& expected) {
      problems << QStringLiteral("%1: expected %2").arg(where, expected);
    };
    if (auto* e = qobject_cast<QLineEdit*>(s.widget)) {
      if (v.isString()) e->setText(v.toString());
      else wrong(QStringLiteral("a string"));
    } else if (auto* i = qobject_cast<QSpinBox*>(s.widget)) {
      const double x = v.toDouble(std::nan(""));
      if (!v.isDouble() || x != std::floor(x)) wrong(QStringLiteral("an integer"));
      else if (x < i->minimum() || x > i->maximum())
        problems << QStringLiteral("%1: %2 is outside %3 to %4").arg(where).arg(x).arg(i->minimum()).arg(i->maximum());
      else i->setValue(int(x));
    } else if (auto* d = qobject_cast<QDoubleSpinBox*>(s.widget)) {
      if (!v.isDouble()) wrong(QStringLiteral("a number"));
      else if (v.toDouble() < d->minimum() || v.toDouble() > d->maximum())
        problems << QStringLiteral("%1: %2 is outside %3 to %4").arg(where).arg(v.toDouble()).arg(d->minimum()).arg(d->maximum());
      else d->setValue(v.toDouble());
    } else if (auto* c = qobject_cast<QCheckBox*>(s.widget)) {
      if (v.isBool()) c->setChecked(v.toBool());
      else wrong(QStringLiteral("true or false"));
    } else if (auto* b = qobject_cast<QComboBox*>(s.widget)) {
      const int index = v.isString() ? b->findText(v.toString()) : -1;
      if (!v.isString()) {
        wrong(QStringLiteral("a string"));
      } else if (index < 0) {
        QStringList choices;
        for (int k = 0; k < b->count(); ++k)
          if (!b->itemText(k).isEmpty()) choices << b->itemText(k);
        problems << QStringLiteral("%1: '%2' is not one of %3").arg(where, v.toString(), choices.join(QStringLiteral(", ")));
      } else {
        b->setCurrentIndex(index);
      }
    }
  }
}

}  // namespace layerscope::app
