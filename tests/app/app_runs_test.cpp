// app_tests, Runs (main() is in app_test.cpp): through the real main window, every results folder opened stays in
// the Runs tab's list (folders with the same name are told apart by their parent), the overlay draws one graph per
// run, the difference heatmap is B - A of the two newest, and Export on the Runs tab writes the overlay and the
// heatmap with their CSVs.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QTabWidget>
#include <QTemporaryDir>

#include "app/gui/main_window.h"
#include "app/gui/results_area.h"
#include "results/synthetic.h"
#include "views/runs_view.h"

using namespace layerscope;

TEST(Runs, OpenedFoldersStayInTheRunListAndExportBothFigures) {
  QTemporaryDir tmp;
  const QString a = tmp.filePath(QStringLiteral("base/res")), b = tmp.filePath(QStringLiteral("adapted/res"));
  results::writeSyntheticResults(a.toStdString(), 12, 2, 1);
  results::writeSyntheticResults(b.toStdString(), 12, 2, 2);
  app::MainWindow w(tmp.filePath(QStringLiteral("settings.ini")));
  w.setQuietErrors(true);
  ASSERT_TRUE(w.openResults(a));
  ASSERT_TRUE(w.openResults(b));  // replaces the views, joins the run list
  auto* area = w.findChild<app::ResultsArea*>();
  ASSERT_NE(area, nullptr);
  views::RunsView* runs = area->runsView();
  EXPECT_EQ(runs->runLabels(), (QStringList{QStringLiteral("res"), QStringLiteral("adapted/res")}));
  EXPECT_TRUE(w.tabs()->isTabEnabled(w.tabs()->indexOf(runs)));
  EXPECT_EQ(runs->overlay()->plot()->graphCount(), 2);
  ASSERT_TRUE(runs->difference()->hasData()) << runs->differenceNote().toStdString();
  EXPECT_EQ(runs->difference()->data().title, QStringLiteral("adapted/res \u2212 res per layer"));
  ASSERT_TRUE(w.openResults(a));  // the same folder again: no second entry
  EXPECT_EQ(runs->runLabels().size(), 2);

  const QStringList files = area->exportRunsFigures(tmp.filePath(QStringLiteral("cmp.pdf")));
  ASSERT_EQ(files.size(), 2);
  EXPECT_EQ(files[1], tmp.filePath(QStringLiteral("cmp-difference.pdf")));
  for (const QString& f : files) {
    QFile pdf(f);
    ASSERT_TRUE(pdf.open(QIODevice::ReadOnly)) << f.toStdString();
    EXPECT_TRUE(pdf.read(5) == "%PDF-") << f.toStdString();
  }
  QFile csv(tmp.filePath(QStringLiteral("cmp.csv")));
  ASSERT_TRUE(csv.open(QIODevice::ReadOnly));
  EXPECT_TRUE(csv.readLine().startsWith("layer,res,adapted/res"));
}
