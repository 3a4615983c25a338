// app_tests, NewUser: the bugs a new user met (issue 18), each checked where it happened: the GUI executable
// and libgomp see OMP_WAIT_POLICY=PASSIVE with the variable unset in the parent (and a user's own value wins);
// `layerscope --help` / `--version` work without a display; a bad --session file is an error naming it; the
// task list shows file names with the full path in the tooltip and the analysed task in bold; spin boxes
// ignore the wheel unless focused; the model summary prints parameters in sensible units; docs/gui.md names
// the settings file the application uses.
#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QListWidget>
#include <QProcess>
#include <QScrollArea>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QVBoxLayout>
#include <QWheelEvent>

#include "app/gui/app_settings.h"
#include "app/gui/inputs_panel.h"
#include "app/gui/main_window.h"
#include "app/gui/model_summary.h"
#include "app/gui/spin_boxes.h"

using namespace layerscope;

namespace {

const QString kGui = QStringLiteral(LAYERSCOPE_GUI_PATH);
const QString kDemoModel = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/models/demo");

/// Runs the GUI executable with `args` in `env`; returns (exit code, stdout + stderr). -1 when it crashed.
std::pair<int, QString> runGui(const QStringList& args, const QProcessEnvironment& env) {
  QProcess p;
  p.setProcessEnvironment(env);
  p.start(kGui, args);
  if (!p.waitForFinished(60000)) {
    p.kill();
    return {-2, QStringLiteral("timeout")};
  }
  const QString out = QString::fromLocal8Bit(p.readAllStandardOutput() + p.readAllStandardError());
  return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, out};
}

QProcessEnvironment withoutDisplay() {
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  for (const char* v : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "OMP_WAIT_POLICY"}) env.remove(QString::fromLatin1(v));
  return env;
}

void wheel(QWidget* w, int steps) {
  QWheelEvent e(QPointF(5, 5), w->mapToGlobal(QPointF(5, 5)), QPoint(), QPoint(0, 120 * steps), Qt::NoButton, Qt::NoModifier,
                Qt::NoScrollPhase, false);
  QCoreApplication::sendEvent(w, &e);
}

}  // namespace

TEST(NewUser, GuiExecutableRunsOpenMpPassiveUnlessTheUserSaysOtherwise) {
  // libgomp prints the policy it read at load time (OMP_DISPLAY_ENV); the GUI gets PASSIVE from the model
  // library's .preinit_array (core/model/runtime.cpp) with the variable unset in its parent.
  // With a bounded spin before sleeping (GOMP_SPINCOUNT) unless the user chose a policy. The settings travel in
  // lendable environment entries (runtime.cpp): three are given here, whatever the test's own environment has.
  QProcessEnvironment env = withoutDisplay();
  env.remove(QStringLiteral("GOMP_SPINCOUNT"));
  for (const char* v : {"_", "OLDPWD", "SHLVL"}) env.insert(QString::fromLatin1(v), QStringLiteral("1"));
  env.insert(QStringLiteral("OMP_DISPLAY_ENV"), QStringLiteral("verbose"));
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  auto [rc, out] = runGui({QStringLiteral("--version")}, env);
  EXPECT_EQ(rc, 0) << out.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral("OMP_WAIT_POLICY = 'PASSIVE'"))) << out.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral("GOMP_SPINCOUNT = '10000'"))) << out.toStdString();
  env.insert(QStringLiteral("OMP_WAIT_POLICY"), QStringLiteral("ACTIVE"));
  std::tie(rc, out) = runGui({QStringLiteral("--version")}, env);
  EXPECT_TRUE(out.contains(QStringLiteral("OMP_WAIT_POLICY = 'ACTIVE'"))) << out.toStdString();
  EXPECT_FALSE(out.contains(QStringLiteral("GOMP_SPINCOUNT = '10000'"))) << out.toStdString();
}

TEST(NewUser, HelpAndVersionWorkWithoutADisplay) {
  auto [rc, out] = runGui({QStringLiteral("--help")}, withoutDisplay());
  EXPECT_EQ(rc, 0) << out.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral("--session"))) << out.toStdString();
  std::tie(rc, out) = runGui({QStringLiteral("--version")}, withoutDisplay());
  EXPECT_EQ(rc, 0) << out.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral("LayerScope"))) << out.toStdString();
  std::tie(rc, out) = runGui({QStringLiteral("--no-such-option")}, withoutDisplay());
  EXPECT_EQ(rc, 1) << out.toStdString();  // an error message, not an abort
}

TEST(NewUser, BadSessionFileIsAnErrorNamingTheFile) {
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);  // the error is emitted instead of a modal dialog
  QSignalSpy errors(&w, &app::MainWindow::errorShown);
  const QString missing = tmp.filePath(QStringLiteral("missing.lssession"));
  EXPECT_FALSE(w.openSessionFile(missing));
  ASSERT_EQ(errors.size(), 1);
  EXPECT_TRUE(errors.first().first().toString().contains(QStringLiteral("missing.lssession"))) << errors.first().first().toString().toStdString();
  const QString garbage = tmp.filePath(QStringLiteral("garbage.lssession"));
  QFile f(garbage);
  ASSERT_TRUE(f.open(QIODevice::WriteOnly));
  f.write("not json");
  f.close();
  EXPECT_FALSE(w.openSessionFile(garbage));
  EXPECT_EQ(errors.size(), 2);
}

TEST(NewUser, TaskListShowsFileNamesFullPathOnHoverAndTheAnalysedTask) {
  app::InputsPanel panel;
  const QString a = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/add.mc.jsonl");
  const QString b = QStringLiteral(LAYERSCOPE_SOURCE_DIR "/resources/tasks/demo/list_index.mc.jsonl");
  panel.addTaskFile(a);
  panel.addTaskFile(b);
  panel.addTaskFile(a);  // once
  QListWidget* list = panel.taskList();
  ASSERT_EQ(list->count(), 2);
  EXPECT_EQ(list->item(0)->text(), QStringLiteral("add.mc.jsonl"));
  EXPECT_EQ(QDir::fromNativeSeparators(list->item(0)->toolTip()), a);
  EXPECT_EQ(panel.taskFiles(), (QStringList{a, b}));
  EXPECT_EQ(panel.currentTask(), b);  // the newest is selected
  EXPECT_TRUE(list->item(1)->font().bold());
  EXPECT_FALSE(list->item(0)->font().bold());
  ASSERT_TRUE(panel.selectTask(a));
  EXPECT_EQ(panel.currentTask(), a);
  EXPECT_TRUE(list->item(0)->font().bold());
  EXPECT_FALSE(list->item(1)->font().bold());
  // The selection keeps its colour when the list loses focus.
  EXPECT_EQ(list->palette().color(QPalette::Inactive, QPalette::Highlight), list->palette().color(QPalette::Active, QPalette::Highlight));
  EXPECT_FALSE(panel.selectTask(QStringLiteral("/nowhere.jsonl")));
}

TEST(NewUser, SpinBoxesIgnoreTheWheelUnlessFocused) {
  QScrollArea area;
  auto* form = new QWidget;
  auto* layout = new QVBoxLayout(form);
  QDoubleSpinBox* lr = app::doubleSpin(1e-7, 1, 7, 2e-4, 1e-5);
  auto* plain = new QSpinBox;  // built elsewhere: the window guards every spin box under it
  layout->addWidget(lr);
  layout->addWidget(plain);
  app::guardWheelUnder(form);
  area.setWidget(form);
  area.resize(200, 100);
  area.show();
  wheel(lr, -4);
  wheel(plain, 3);
  EXPECT_DOUBLE_EQ(lr->value(), 2e-4);
  EXPECT_EQ(plain->value(), 0);
  EXPECT_EQ(lr->focusPolicy(), Qt::StrongFocus);
  // Focused, the wheel steps the value as usual.
  area.activateWindow();
  lr->setFocus();
  if (!lr->hasFocus()) GTEST_SKIP() << "this platform gives no focus offscreen";
  wheel(lr, 1);
  EXPECT_NEAR(lr->value(), 2e-4 + 1e-5, 1e-12);
}

TEST(NewUser, SpinBoxesOfTheMainWindowAreGuarded) {
  QTemporaryDir tmp;
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  const auto boxes = w.findChildren<QAbstractSpinBox*>();
  ASSERT_FALSE(boxes.isEmpty());
  for (QAbstractSpinBox* s : boxes) EXPECT_EQ(s->focusPolicy(), Qt::StrongFocus) << s->objectName().toStdString();
}

TEST(NewUser, ModelSummaryPrintsParametersInSensibleUnits) {
  EXPECT_TRUE(app::parameterCountText(2330496).endsWith(QStringLiteral("(2.33 M)"))) << app::parameterCountText(2330496).toStdString();
  EXPECT_TRUE(app::parameterCountText(7241732096.0).endsWith(QStringLiteral("(7.24 B)")));
  EXPECT_TRUE(app::parameterCountText(124000).endsWith(QStringLiteral("(124 k)")));
  EXPECT_EQ(app::parameterCountText(999), QStringLiteral("999"));
  if (!QFileInfo::exists(kDemoModel + QStringLiteral("/model.safetensors"))) GTEST_SKIP() << "no demo model";
  const app::ModelSummary s = app::summariseModel(kDemoModel);
  ASSERT_TRUE(s.error.isEmpty()) << s.error.toStdString();
  EXPECT_FALSE(s.html.contains(QStringLiteral("0.00 B")));
  EXPECT_TRUE(s.html.contains(QStringLiteral(" M)"))) << s.html.toStdString();
}

TEST(NewUser, DocsNameTheSettingsFileTheApplicationUses) {
  // main() sets these names; the default file is derived from them (XDG_CONFIG_HOME unset: ~/.config).
  const QString app = QCoreApplication::applicationName(), org = QCoreApplication::organizationName();
  const QByteArray xdg = qgetenv("XDG_CONFIG_HOME");
  qunsetenv("XDG_CONFIG_HOME");
  QCoreApplication::setApplicationName(QStringLiteral("LayerScope"));
  QCoreApplication::setOrganizationName(QStringLiteral("LayerScope"));
  QString file = app::AppSettings::defaultFile();
  QCoreApplication::setApplicationName(app);
  QCoreApplication::setOrganizationName(org);
  if (!xdg.isNull()) qputenv("XDG_CONFIG_HOME", xdg);
  ASSERT_TRUE(file.startsWith(QDir::homePath())) << file.toStdString();
  file.replace(0, QDir::homePath().size(), QStringLiteral("~"));
  QFile doc(QStringLiteral(LAYERSCOPE_SOURCE_DIR "/docs/gui.md"));
  ASSERT_TRUE(doc.open(QIODevice::ReadOnly));
  EXPECT_TRUE(QString::fromUtf8(doc.readAll()).contains(QLatin1Char('`') + file + QLatin1Char('`'))) << file.toStdString();
}
