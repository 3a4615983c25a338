// layerscope: the desktop application. Options: --results DIR (repeatable: merged), --session FILE,
// --model DIR, --task FILE, --adapter DIR, --compare DIR, --example-results (synthetic, labelled), --screenshots DIR
// (render each tab and the training dock to PNG and quit; used by scripts/screenshots.sh under Xvfb),
// --write-example-results DIR.
// The command line is parsed before any window system is touched: --help, --version and option errors work
// without a display; a session file that cannot be read is an error dialog over the (empty) window.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QDockWidget>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include "app/gui/app_settings.h"
#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "layerscope/version.h"
#include "results/synthetic.h"
#include "views/layer_selection.h"

namespace {

void setNames() {
  QCoreApplication::setApplicationName(QStringLiteral("LayerScope"));
  QCoreApplication::setOrganizationName(QStringLiteral("LayerScope"));
  QCoreApplication::setApplicationVersion(QString::fromLatin1(layerscope::kVersion));
}

struct Options {
  QCommandLineOption results{QStringLiteral("results"), QStringLiteral("Open a results directory (repeat to merge)."), QStringLiteral("DIR")};
  QCommandLineOption session{QStringLiteral("session"), QStringLiteral("Open a session file."), QStringLiteral("FILE")};
  QCommandLineOption model{QStringLiteral("model"), QStringLiteral("Model folder."), QStringLiteral("DIR")};
  QCommandLineOption task{QStringLiteral("task"), QStringLiteral("Task file (repeatable)."), QStringLiteral("FILE")};
  QCommandLineOption example{QStringLiteral("example-results"), QStringLiteral("Show synthetic example results (clearly labelled).")};
  QCommandLineOption shots{QStringLiteral("screenshots"), QStringLiteral("Write a PNG per tab into DIR and quit."), QStringLiteral("DIR")};
  QCommandLineOption select{QStringLiteral("select"), QStringLiteral("Select layers, e.g. 20,21,22."), QStringLiteral("LIST")};
  QCommandLineOption writeExample{QStringLiteral("write-example-results"),
                                  QStringLiteral("Write the synthetic example results into DIR and quit."), QStringLiteral("DIR")};
  QCommandLineOption settings{QStringLiteral("settings"), QStringLiteral("Settings INI file."), QStringLiteral("FILE")};
  QCommandLineOption adapter{QStringLiteral("adapter"),
                             QStringLiteral("Adapter folder (repeatable): the last is applied; each one's training curves are shown."),
                             QStringLiteral("DIR")};
  QCommandLineOption compare{QStringLiteral("compare"),
                             QStringLiteral("Open a second results directory and compare it with the first --results (Runs, Items)."),
                             QStringLiteral("DIR")};

  void addTo(QCommandLineParser& parser) const {
    parser.setApplicationDescription(QStringLiteral("Layer-wise interpretability for GQA transformers"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({results, session, model, task, example, shots, select, writeExample, settings, adapter, compare});
  }
};

}  // namespace

int main(int argc, char** argv) {
  const Options opt;
  {
    // Parsed first under a QCoreApplication: --help, --version and option errors print and exit (0 / 1)
    // without a display; --write-example-results needs none either.
    QCoreApplication pre(argc, argv);
    setNames();
    QCommandLineParser parser;
    opt.addTo(parser);
    parser.process(pre);  // exits on --help / --version / an unknown option
    if (parser.isSet(opt.writeExample)) {
      layerscope::results::writeSyntheticResults(parser.value(opt.writeExample).toStdString());
      return 0;
    }
  }
  QApplication app(argc, argv);
  setNames();
  QCommandLineParser parser;
  opt.addTo(parser);
  parser.process(app);
  const QCommandLineOption &results = opt.results, &session = opt.session, &model = opt.model, &task = opt.task,
                           &example = opt.example, &shots = opt.shots, &select = opt.select, &settingsOpt = opt.settings;
  const QString settingsFile = parser.isSet(settingsOpt) ? parser.value(settingsOpt) : layerscope::app::AppSettings::defaultFile();
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
  if (parser.isSet(opt.compare) && !parser.values(results).isEmpty() && w.openResults(parser.value(opt.compare)))
    w.resultsArea()->showRunComparison(parser.values(results).constFirst(), parser.value(opt.compare));
  if (parser.isSet(model)) w.setModelDir(parser.value(model));
  for (const QString& a : parser.values(opt.adapter)) w.setAdapterDir(a);
  for (const QString& t : parser.values(task)) w.addTaskFile(t);
  const bool sessionGiven = parser.isSet(session);
  if (parser.isSet(select)) {
    QVector<int> layers;
    for (const QString& s : parser.value(select).split(QLatin1Char(','), Qt::SkipEmptyParts)) layers << s.toInt();
    w.selection()->setLayers(layers);
  }
  w.show();
  // After show(): a session that cannot be read is a dialog over the window, not a silent empty window.
  if (sessionGiven) w.openSessionFile(parser.value(session));
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
      // The fine-tuning dock, floated and tall enough for its loss curve under the settings.
      w.showTrainPanel();
      if (auto* dock = w.findChild<QDockWidget*>(QStringLiteral("trainDock"))) {
        dock->setFloating(true);
        dock->resize(760, 1180);
        QApplication::processEvents();
        dock->grab().save(QStringLiteral("%1/window-training.png").arg(dir));
      }
      QApplication::quit();
    });
  } else if (!parser.isSet(results) && !parser.isSet(session) && !parser.isSet(example)) {
    // File > Reopen last session at start, else (on the very first start) the demo offer.
    QTimer::singleShot(0, &w, [&w] {
      if (!w.reopenLastSession()) w.offerDemoOnFirstStart();
    });
  }
  return app.exec();
}
