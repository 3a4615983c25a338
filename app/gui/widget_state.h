// Sessions: the values of a panel's input widgets as one JSON object, key by key, and back. Each panel lists its
// inputs (key, widget); line edits are strings, spin boxes numbers, check boxes booleans, combo boxes the chosen
// text. Applying checks every value: a wrong type or a choice the combo box does not offer leaves the widget as
// it is and is reported as "KEY: problem", so a hand-edited session fails loudly but never half-silently.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

class QWidget;

namespace layerscope::app {

struct SettingWidget {
  QString key;
  QWidget* widget;
};

/// The current value of every listed widget (QLineEdit, QSpinBox, QDoubleSpinBox, QCheckBox, QComboBox).
QJsonObject widgetValues(const QList<SettingWidget>& widgets);
/// Sets each listed widget whose key `values` holds; keys not listed are ignored (newer sessions). Problems are
/// appended as "PREFIX.KEY: what is wrong".
void applyWidgetValues(const QList<SettingWidget>& widgets, const QJsonObject& values, const QString& prefix,
                       QStringList& problems);

}  // namespace layerscope::app
