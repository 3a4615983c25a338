// The bundled demo (resources/models/demo and resources/tasks/demo, installed under share/layerscope): where it
// is, and the question the first start asks before opening it.
#pragma once

#include <QString>
#include <QStringList>

class QWidget;

namespace layerscope::app {

/// `rel` ("models/demo") found by findBundledData (app/bundled_data.h); empty when no data folder has it.
QString bundledResource(const QString& rel);

struct DemoFiles {
  QString modelDir;       ///< empty when not bundled
  QStringList taskFiles;  ///< the demo task files, by name
  bool empty() const { return modelDir.isEmpty() && taskFiles.isEmpty(); }
};
DemoFiles findDemo();

/// "Open the bundled demo model and tasks?" (Yes / No).
bool askToOpenDemo(QWidget* parent, const DemoFiles& demo);

}  // namespace layerscope::app
