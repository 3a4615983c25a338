// layerscope: the desktop application. Options: --results DIR (repeatable: merged), --session FILE,
// --model DIR, --task FILE, --example-results (synthetic, labelled), --screenshots DIR (render each tab to
// PNG and quit; used by scripts/screenshots.sh under Xvfb), --write-example-results DIR.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include "app/gui/main_window.h"
#include "layerscope/version.h"
#include "results/synthetic.h"
#include "views/layer_selection.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("LayerScope"));
  QApplication::setOrganizationName(QStringLiteral("LayerScope"));
  QApplication::setApplicationVersion(QString::fromLatin1(layerscope::kVersion));
  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Layer-wise interpretability for GQA transformers"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption results(QStringLiteral("results"), QStringLiteral("Open a results directory (repeat to merge)."), QStringLiteral("DIR"));
  QCommandLineOption session(QStringLiteral("session"), QStringLiteral("Open a session file."), QStringLiteral("FILE"));
  QCommandLineOption model(QStringLiteral("model"), QStringLiteral("Model folder."), QStringLiteral("DIR"));
  QCommandLineOption task(QStringLiteral("task"), QStringLiteral("Task file (repeatable)."), QStringLiteral("FILE"));
  QCommandLineOption example(QStringLiteral("example-results"), QStringLiteral("Show synthetic example results (clearly labelled)."));
  QCommandLineOption shots(QStringLiteral("screenshots"), QStringLiteral("Write a PNG per tab into DIR and quit."), QStringLiteral("DIR"));
  QCommandLineOption select(QStringLiteral("select"), QStringLiteral("Select layers, e.g. 20,21,22."), QStringLiteral("LIST"));
  QCommandLineOption writeExample(QStringLiteral("write-example-results"),
                                  QStringLiteral("Write the synthetic example results into DIR and quit."), QStringLiteral("DIR"));
  QCommandLineOption settingsOpt(QStringLiteral("settings"), QStringLiteral("Settings INI file."), QStringLiteral("FILE"));
  parser.addOptions({results, session, model, task, example, shots, select, writeExample, settingsOpt});
  parser.process(app);
  if (parser.isSet(writeExample)) {
    layerscope::results::writeSyntheticResults(parser.value(writeExample).toStdString());
    return 0;
  }

  const QString settingsFile = parser.isSet(settingsOpt)
                                   ? parser.value(settingsOpt)
                                   : QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation) + QStringLiteral("/layerscope.ini");
  layerscope::app::MainWindow w(settingsFile);
  QTemporaryDir exampleDir;
  if (parser.isSet(example)) {
    layerscope::results::writeSyntheticResults(exampleDir.filePath(QStringLiteral("synthetic-example")).toStdString());
    w.openResults(exampleDir.filePath(QStringLiteral("synthetic-example")));
  }
  bool first = !parser.isSet(example);
  for (const QString& d : parser.values(results)) {
    w.openResults(d, !first);
    first = false;
  }
  if (parser.isSet(model)) w.setModelDir(parser.value(model));
  for (const QString& t : parser.values(task)) w.addTaskFile(t);
  if (parser.isSet(session)) {
    try {
      w.applySession(layerscope::app::loadSession(parser.value(session)));
    } catch (const std::exception& e) {
      qWarning("%s", e.what());
    }
  }
  if (parser.isSet(select)) {
    QVector<int> layers;
    for (const QString& s : parser.value(select).split(QLatin1Char(','), Qt::SkipEmptyParts)) layers << s.toInt();
    w.selection()->setLayers(layers);
  }
  w.show();
  if (parser.isSet(shots)) {
    const QString dir = parser.value(shots);
    QDir().mkpath(dir);
    // After the first paint: grab each tab in turn, then quit.
    QTimer::singleShot(1500, &w, [&w, dir] {
      for (int i = 0; i < w.tabs()->count(); ++i) {
        w.tabs()->setCurrentIndex(i);
        QWidget* page = w.tabs()->widget(i);
        page->repaint();
        const QString name = w.tabs()->tabText(i).toLower().replace(QLatin1Char(' '), QLatin1Char('-'));
        w.grab().save(QStringLiteral("%1/window-%2.png").arg(dir, name));
      }
      QApplication::quit();
    });
  } else if (!parser.isSet(results) && !parser.isSet(session) && !parser.isSet(example)) {
    QTimer::singleShot(0, &w, [&w] { w.offerDemoOnFirstStart(); });
  }
  return app.exec();
}
