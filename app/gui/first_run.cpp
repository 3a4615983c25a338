#include "app/gui/first_run.h"

#include <QDir>
#include <QFile>
#include <QMessageBox>

#include "app/bundled_data.h"

namespace layerscope::app {

QString bundledResource(const QString& rel) {
  return QFile::decodeName(findBundledData(QFile::encodeName(rel).toStdString()).c_str());
}

DemoFiles findDemo() {
  DemoFiles d;
  d.modelDir = bundledResource(QStringLiteral("models/demo"));
  const QString tasks = bundledResource(QStringLiteral("tasks/demo"));
  if (!tasks.isEmpty())
    for (const QString& f : QDir(tasks).entryList({QStringLiteral("*.jsonl")}, QDir::Files, QDir::Name))
      d.taskFiles << QDir(tasks).filePath(f);
  return d;
}

bool askToOpenDemo(QWidget* parent, const DemoFiles& demo) {
  return QMessageBox::question(parent, QObject::tr("Welcome to LayerScope"),
                               QObject::tr("Open the bundled demo%1%2?")
                                   .arg(demo.modelDir.isEmpty() ? QString() : QObject::tr(" model"),
                                        demo.taskFiles.isEmpty() ? QString() : QObject::tr(" and tasks"))) == QMessageBox::Yes;
}

}  // namespace layerscope::app
