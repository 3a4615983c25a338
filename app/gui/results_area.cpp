#include "app/gui/results_area.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QToolBar>
#include <algorithm>

#include "results/items.h"
#include "results/reader.h"
#include "results/transforms.h"
#include "views/ablation_view.h"
#include "views/figure_export.h"
#include "views/heatmap_view.h"
#include "views/items_view.h"
#include "views/layer_selection.h"
#include "views/layers_table_model.h"
#include "views/manipulation_view.h"
#include "views/profile_view.h"
#include "views/redundancy_view.h"
#include "views/runs_view.h"
#include "views/scatter_view.h"
#include "views/score_names.h"

namespace layerscope::app {

ResultsArea::ResultsArea(QWidget* parent)
    : QTabWidget(parent), selection_(new views::LayerSelection(this)), toolBar_(new QToolBar(tr("Figure"), this)) {
  buildToolBar();
  setDocumentMode(true);
  profile_ = new views::ProfileView;
  heatmap_ = new views::HeatmapView;
  scatter_ = new views::ScatterView;
  redundancy_ = new views::RedundancyView;
  manipulation_ = new views::ManipulationView;
  ablation_ = new views::AblationView;
  addTab(profile_, tr("Profiles"));
  addTab(heatmap_, tr("Heatmap"));
  addTab(scatter_, tr("Correlation"));
  addTab(redundancy_, tr("Redundancy"));
  addTab(manipulation_, tr("Manipulations"));
  addTab(ablation_, tr("Ablation"));
  for (views::PlotView* v : plotViews()) {
    v->setSelection(selection_);
    v->setFigureStyle(screenStyle());
  }
  tableModel_ = new views::LayersTableModel(this);
  auto* proxy = new QSortFilterProxyModel(this);
  proxy->setSourceModel(tableModel_);
  proxy->setSortRole(views::LayersTableModel::kRawRole);
  table_ = new QTableView;
  table_->setModel(proxy);
  table_->setSortingEnabled(true);
  table_->sortByColumn(0, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  addTab(table_, tr("Layers table"));
  items_ = new views::ItemsView;
  addTab(items_, tr("Items"));
  runs_ = new views::RunsView;
  addTab(runs_, tr("Runs"));
  setTabToolTip(count() - 1, tr("Every results folder opened in this window: one layer score overlaid across runs, "
                                "and run B \u2212 run A as a heatmap"));
  for (views::PlotView* v : {static_cast<views::PlotView*>(runs_->overlay()), static_cast<views::PlotView*>(runs_->difference())}) {
    v->setSelection(selection_);
    v->setFigureStyle(screenStyle());
  }
  setTabToolTip(count() - 1, tr("Every evaluated item (items.jsonl): prompt, gold, prediction, log-likelihoods; "
                                "filter, sort, and compare two evaluations item by item"));
  // Linked selection: table rows <-> LayerSelection (setLayers ignores no-op changes, so no loop).
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this, proxy] {
    QVector<int> layers;
    for (const QModelIndex& i : table_->selectionModel()->selectedRows()) layers << proxy->mapToSource(i).row();
    selection_->setLayers(layers);
  });
  connect(selection_, &views::LayerSelection::changed, this, [this, proxy](const QVector<int>& layers) {
    QItemSelection sel;
    for (int l : layers) {
      if (l >= tableModel_->rowCount()) continue;
      const QModelIndex i = proxy->mapFromSource(tableModel_->index(l, 0));
      sel.select(i, i);
    }
    const QSignalBlocker block(table_->selectionModel());
    table_->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    table_->viewport()->update();
    QStringList names;
    for (int l : layers) names << QString::number(l);
    Q_EMIT statusMessage(layers.isEmpty() ? tr("No layers selected") : tr("Selected layers: %1").arg(names.join(QStringLiteral(", "))), 0);
  });
}

void ResultsArea::buildToolBar() {
  // Display options shared by every view and by export.
  toolBar_->setObjectName(QStringLiteral("figureToolbar"));
  toolBar_->addWidget(new QLabel(tr(" Size ")));
  sizePreset_ = new QComboBox;
  sizePreset_->addItems(views::presetNames());
  toolBar_->addWidget(sizePreset_);
  toolBar_->addWidget(new QLabel(tr("  Colour map ")));
  colormap_ = new QComboBox;
  colormap_->addItems({QStringLiteral("viridis"), QStringLiteral("cividis")});
  toolBar_->addWidget(colormap_);
  twinAxes_ = new QCheckBox(tr("Twin axes"));
  twinAxes_->setToolTip(tr("Profiles on their own axes instead of each divided by its maximum"));
  toolBar_->addWidget(twinAxes_);
  ranks_ = new QCheckBox(tr("Ranks"));
  ranks_->setToolTip(tr("Correlation plot of average ranks (what Spearman's r_s correlates)"));
  toolBar_->addWidget(ranks_);
  exportSelection_ = new QCheckBox(tr("Export selection"));
  exportSelection_->setToolTip(tr("Draw the selected layers' band in File > Export figure (off: exports show the data only)"));
  toolBar_->addWidget(exportSelection_);
  exportZoom_ = new QCheckBox(tr("Export zoom"));
  exportZoom_->setToolTip(tr("File > Export figure draws the zoomed / panned region shown (off: the full figure; wheel, "
                             "drag and + / - / arrows zoom and pan a plot, 0 or Home resets it)"));
  toolBar_->addWidget(exportZoom_);
  toolBar_->addWidget(new QLabel(tr("  Profile ")));
  profileMetric_ = new QComboBox;
  profileMetric_->setToolTip(tr("Layer score drawn first in the profile and correlation views (default: the "
                                  "first key of the co-localization pair in stats.json)"));
  toolBar_->addWidget(profileMetric_);
  toolBar_->addWidget(new QLabel(tr("  Heatmap ")));
  heatmapKind_ = new QComboBox;
  heatmapKind_->addItems({tr("RoPE influence per KV head"), tr("all layer scores")});
  toolBar_->addWidget(heatmapKind_);
  for (QComboBox* c : {sizePreset_, colormap_, heatmapKind_, profileMetric_})
    connect(c, &QComboBox::currentIndexChanged, this, &ResultsArea::updateStyle);
  for (QCheckBox* c : {twinAxes_, ranks_}) connect(c, &QCheckBox::toggled, this, &ResultsArea::updateStyle);
}

QList<views::PlotView*> ResultsArea::plotViews() const {
  return {profile_, heatmap_, scatter_, redundancy_, manipulation_, ablation_};
}

void ResultsArea::showAblationTab() { setCurrentWidget(ablation_); }

views::FigureStyle ResultsArea::screenStyle() const {
  views::FigureStyle s = views::withPreset(views::FigureStyle{}, views::SizePreset(sizePreset_->currentIndex()));
  s.pxPerPt = std::max(1.0, logicalDpiY() / 72.0);
  s.normalise = !twinAxes_->isChecked();
  s.ranks = ranks_->isChecked();
  s.colormap = colormap_->currentText();
  return s;
}

void ResultsArea::open(const QString& dir, bool add) {
  auto b = results::readResultsDir(dir.toStdString());
  // The items of the first folder with an items.jsonl (read before anything changes, so an error keeps the view).
  std::optional<results::ItemSet> items;
  const bool keepItems = add && bundle_ && itemSet_;
  if (!keepItems && std::filesystem::exists(b.dir / "items.jsonl")) items = results::readItemsOfResults(b.dir);
  if (!keepItems) {
    itemSet_ = std::move(items);
    if (itemSet_) items_->setItems(*itemSet_);
    else items_->clear();
  }
  addToRuns(dir, b);
  if (add && bundle_) {
    results::mergeInto(*bundle_, b);
    dirs_ << dir;
  } else {
    bundle_ = std::move(b);
    dirs_ = QStringList{dir};
    selection_->clear();
  }
  showBundle();
  Q_EMIT bundleChanged();
}

void ResultsArea::addToRuns(const QString& dir, const results::ResultsBundle& b) {
  if (!b.scores) return;
  // Every folder with scores stays in the run list; its label is the folder name (with the parent's when two differ).
  const QFileInfo fi(dir);
  QString label = fi.fileName();
  if (runDirs_.contains(label) && QFileInfo(runDirs_[label]).canonicalFilePath() != fi.canonicalFilePath())
    label = fi.dir().dirName() + QLatin1Char('/') + label;
  runDirs_[label] = dir;
  runs_->addRun(label, *b.scores);
}

void ResultsArea::addRunFolder(const QString& dir) {
  addToRuns(dir, results::readResultsDir(dir.toStdString()));
  setTabEnabled(indexOf(runs_), !runs_->runLabels().isEmpty());
}

bool ResultsArea::showRunComparison(const QString& baseDir, const QString& otherDir) {
  const QStringList folders = runFolders(), labels = runs_->runLabels();
  auto labelOf = [&](const QString& dir) {
    const QString canonical = QFileInfo(dir).canonicalFilePath();
    for (qsizetype i = 0; i < folders.size(); ++i)
      if (!canonical.isEmpty() && QFileInfo(folders[i]).canonicalFilePath() == canonical) return labels[i];
    return QString();
  };
  const QString a = labelOf(baseDir), b = labelOf(otherDir);
  if (a.isEmpty() || b.isEmpty() || a == b) return false;
  for (const QString& label : labels) runs_->setChecked(label, label == a || label == b);
  runs_->setDifferenceRuns(a, b);
  // Item by item as well (which items the adapter fixed or broke), when both analyses wrote items.jsonl.
  const std::filesystem::path da = baseDir.toStdString(), db = otherDir.toStdString();
  if (std::filesystem::exists(da / "items.jsonl") && std::filesystem::exists(db / "items.jsonl")) {
    try {
      const results::ItemSet ia = results::readItemsOfResults(da), ib = results::readItemsOfResults(db);
      items_->setComparison(ia, ib, results::compareItems(ia.items, ib.items, a.toStdString(), b.toStdString()));
      setTabEnabled(indexOf(items_), true);
    } catch (const std::exception& e) {
      Q_EMIT statusMessage(tr("Items not compared: %1").arg(QString::fromUtf8(e.what())), 8000);
    }
  }
  setTabEnabled(indexOf(runs_), true);
  setCurrentWidget(runs_);
  return true;
}

QStringList ResultsArea::runFolders() const {
  QStringList out;
  for (const QString& label : runs_->runLabels()) out << runDirs_.value(label);
  return out;
}

void ResultsArea::showItemComparison(const results::ItemSet& a, const results::ItemSet& b,
                                     const results::ItemComparison& c) {
  items_->setComparison(a, b, c);
  setTabEnabled(indexOf(items_), true);
  setCurrentWidget(items_);
}

void ResultsArea::showBundle() {
  if (!bundle_) return;
  const auto& b = *bundle_;
  {
    const QSignalBlocker block(profileMetric_);
    const QString current = profileMetric_->currentText();
    profileMetric_->clear();
    // Every profile key (interval bounds left out), grouped by the part before the dot with a separator between
    // groups; a registered extra profile (logit_lens.*, ...) appears here with no GUI change.
    if (b.scores) {
      QString group;
      for (const std::string& k : views::profileKeys(*b.scores)) {
        const QString key = QString::fromStdString(k);
        if (!group.isEmpty() && views::keyGroup(key) != group) profileMetric_->insertSeparator(profileMetric_->count());
        group = views::keyGroup(key);
        profileMetric_->addItem(key);
        profileMetric_->setItemData(profileMetric_->count() - 1, views::readableKey(key), Qt::ToolTipRole);
      }
    }
    const QString wanted = current.isEmpty() && b.stats ? QString::fromStdString(b.stats->sensitivityKey) : current;
    profileMetric_->setCurrentIndex(std::max(0, profileMetric_->findText(wanted)));
  }
  if (b.scores) {
    profile_->setData(*b.scores, b.stats);
    scatter_->setData(*b.scores, b.stats);
  }
  updateStyle();  // heatmap kind, metric choice and style in one place
  redundancy_->setData(b.scores, b.drop);
  if (b.manipulation) manipulation_->setData(*b.manipulation);
  if (b.ablation) ablation_->setData(*b.ablation);
  tableModel_->setTable(results::layerTableOf(b));
  // Tabs without data stay, greyed, so the layout never jumps.
  for (int i = 0; i < count(); ++i)
    if (auto* v = qobject_cast<views::PlotView*>(widget(i))) setTabEnabled(i, v->hasData());
  setTabEnabled(indexOf(items_), items_->hasData());
  setTabEnabled(indexOf(runs_), !runs_->runLabels().isEmpty());
}

void ResultsArea::updateStyle() {
  const views::FigureStyle s = screenStyle();
  if (bundle_ && bundle_->scores) {
    const bool perHead = heatmapKind_->currentIndex() == 0 && !bundle_->scores->layerHeadScores.empty();
    std::string headKey;
    for (const auto& [k, m] : bundle_->scores->layerHeadScores)
      if (headKey.empty()) headKey = k;
    heatmap_->setData(perHead ? views::headHeatmap(*bundle_->scores, headKey) : views::metricHeatmap(*bundle_->scores));
    const QString metric = profileMetric_->currentText();
    profile_->setProfileKeys(metric, {});
    scatter_->setProfileKeys(metric, {});
  }
  for (views::PlotView* v : plotViews()) v->setFigureStyle(s);
  runs_->overlay()->setFigureStyle(s);
  runs_->difference()->setFigureStyle(s);
}

void ResultsArea::exportCurrentFigure() {
  auto* view = qobject_cast<views::PlotView*>(currentWidget());
  if (currentWidget() == runs_) {
    exportRunsFigure();
    return;
  }
  if (!bundle_ || !view || !view->hasData()) {
    Q_EMIT errorOccurred(tr("Nothing to export"), tr("Open results and choose a figure tab first."));
    return;
  }
  const QString file = QFileDialog::getSaveFileName(this, tr("Export figure"), view->kind() + QStringLiteral(".pdf"),
                                                    tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
  if (file.isEmpty()) return;
  try {
    auto kind = views::parseFigureKind(view->kind());
    if (view == heatmap_ && heatmapKind_->currentIndex() == 1) kind = views::FigureKind::HeatmapMetrics;
    views::FigureStyle s = screenStyle();
    s.pxPerPt = 1;
    s.exportSelection = exportSelection_->isChecked();
    s.exportZoom = exportZoom_->isChecked();
    auto fig = views::makeFigure(*kind, *bundle_, s, selection_);
    if (s.exportZoom) fig->setViewRanges(view->viewRanges());
    if (view == profile_ || view == scatter_) {
      if (auto* p = qobject_cast<views::ProfileView*>(fig.get())) p->setProfileKeys(profileMetric_->currentText(), {});
      if (auto* p = qobject_cast<views::ScatterView*>(fig.get())) p->setProfileKeys(profileMetric_->currentText(), {});
    }
    views::exportFigure(*fig, file, s);
    Q_EMIT statusMessage(tr("Wrote %1 and its data as CSV").arg(file), 8000);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

void ResultsArea::exportRunsFigure() {
  // The overlay of the Runs tab to FILE, and its difference heatmap (when drawn) beside it as FILE-difference.EXT,
  // both drawn again at the export style.
  if (!runs_->overlay()->hasData()) {
    Q_EMIT errorOccurred(tr("Nothing to export"), tr("Open results folders first: each one joins the run list."));
    return;
  }
  const QString file = QFileDialog::getSaveFileName(this, tr("Export run comparison"), QStringLiteral("overlay.pdf"),
                                                    tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
  if (file.isEmpty()) return;
  try {
    const QStringList written = exportRunsFigures(file);
    Q_EMIT statusMessage(tr("Wrote %1 and the data as CSV").arg(written.join(QStringLiteral(", "))), 8000);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

QStringList ResultsArea::exportRunsFigures(const QString& file) {
  views::FigureStyle s = screenStyle();
  s.pxPerPt = 1;
  s.exportSelection = exportSelection_->isChecked();
  QStringList written;
  {
    views::ProfileOverlayView fig;
    fig.setFigureStyle(s);
    QStringList labels;
    std::vector<results::Scores> runs;
    runs_->overlayData(labels, runs);
    fig.setData(labels, runs, runs_->keyCombo()->currentText());
    views::exportFigure(fig, file, s);
    written << file;
  }
  if (runs_->difference()->hasData()) {
    const QFileInfo fi(file);
    const QString diff = fi.dir().filePath(fi.completeBaseName() + QStringLiteral("-difference.") + fi.suffix());
    views::HeatmapView fig;
    fig.setFigureStyle(s);
    fig.setData(runs_->difference()->data());
    views::exportFigure(fig, diff, s);
    written << diff;
  }
  return written;
}

void ResultsArea::exportAllFigures() {
  if (!bundle_) {
    Q_EMIT errorOccurred(tr("Nothing to export"), tr("Open a results folder first."));
    return;
  }
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Export all figures into"));
  if (dir.isEmpty()) return;
  try {
    views::FigureStyle s = screenStyle();
    s.pxPerPt = 1;
    const auto manifest = views::exportAllFigures(*bundle_, dir, s);
    Q_EMIT statusMessage(tr("Wrote %1 figures and figures.json to %2").arg(manifest.value(QStringLiteral("figures")).toArray().size()).arg(dir), 8000);
  } catch (const std::exception& e) {
    Q_EMIT errorOccurred(tr("Export failed"), QString::fromUtf8(e.what()));
  }
}

}  // namespace layerscope::app
