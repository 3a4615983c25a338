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

/// The task the first run selects: list_index.mc (the demo model answers 69.5% of it correctly, so outcome-mode
/// sensitivity has both classes; resources/models/demo/eval_results.json), else the first multiple-choice task
/// with 0 < accuracy < 1 in that file, else the first task file; empty without task files.
QString defaultDemoTask(const DemoFiles& demo);

/// "Open the bundled demo model and tasks?" (Yes / No).
bool askToOpenDemo(QWidget* parent, const DemoFiles& demo);

}  // namespace layerscope::app
