#include "app/gui/first_run.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
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

QString defaultDemoTask(const DemoFiles& demo) {
  if (demo.taskFiles.isEmpty()) return {};
  const auto byName = [&](const QString& name) {
    for (const QString& f : demo.taskFiles)
      if (QFileInfo(f).fileName() == name + QStringLiteral(".jsonl")) return f;
    return QString();
  };
  if (const QString f = byName(QStringLiteral("list_index.mc")); !f.isEmpty()) return f;
  QFile evalFile(QDir(demo.modelDir).filePath(QStringLiteral("eval_results.json")));
  if (!demo.modelDir.isEmpty() && evalFile.open(QIODevice::ReadOnly)) {
    const QJsonObject tasks = QJsonDocument::fromJson(evalFile.readAll()).object().value(QStringLiteral("tasks")).toObject();
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      const double acc = it.value().toObject().value(QStringLiteral("acc")).toDouble(-1);
      if (acc > 0 && acc < 1)
        if (const QString f = byName(it.key()); !f.isEmpty()) return f;
    }
  }
  return demo.taskFiles.front();
}

bool askToOpenDemo(QWidget* parent, const DemoFiles& demo) {
  return QMessageBox::question(parent, QObject::tr("Welcome to LayerScope"),
                               QObject::tr("Open the bundled demo%1%2?")
                                   .arg(demo.modelDir.isEmpty() ? QString() : QObject::tr(" model"),
                                        demo.taskFiles.isEmpty() ? QString() : QObject::tr(" and tasks"))) == QMessageBox::Yes;
}

}  // namespace layerscope::app
