// The results shown in the window: the tabs of linked views (profiles, heatmap, correlation, redundancy,
// manipulations, ablation, layers table, items, runs) over one results bundle (one results folder, or several merged), the
// layer selection they share, the figure toolbar (size preset, colour map, axes, metric) and figure export.
#pragma once

#include <QMap>
#include <QStringList>
#include <QTabWidget>
#include <optional>

#include "results/item_comparison.h"
#include "results/results.h"
#include "views/figure_style.h"

class QCheckBox;
class QComboBox;
class QTableView;
class QToolBar;

namespace layerscope::views {
class AblationView;
class HeatmapView;
class ItemsView;
class RunsView;
class LayerSelection;
class LayersTableModel;
class ManipulationView;
class PlotView;
class ProfileView;
class RedundancyView;
class ScatterView;
}  // namespace layerscope::views

namespace layerscope::app {

class ResultsArea : public QTabWidget {
  Q_OBJECT
 public:
  explicit ResultsArea(QWidget* parent = nullptr);

  /// The figure toolbar, for the window to add.
  QToolBar* figureToolBar() const { return toolBar_; }
  /// Reads `dir` and shows it, merged into the results shown when `add` (analyze + manipulate + drop + ablation).
  /// Throws (layerscope::Error naming the file) and keeps what was shown when the folder cannot be read.
  void open(const QString& dir, bool add);
  const std::optional<results::ResultsBundle>& bundle() const { return bundle_; }
  /// The folders shown, the first one opened first.
  QStringList dirs() const { return dirs_; }
  views::LayerSelection* selection() const { return selection_; }
  QList<views::PlotView*> plotViews() const;
  views::LayersTableModel* layersModel() const { return tableModel_; }
  /// The toolbar's "Profile" choice: every layer_scores key except interval bounds.
  QComboBox* profileMetricCombo() const { return profileMetric_; }
  void showAblationTab();
  /// The item explorer (Items tab): the items.jsonl of the first folder shown, or a comparison of two evaluations.
  views::ItemsView* itemsView() const { return items_; }
  /// Shows `a` compared item by item with `b` in the Items tab and switches to it (Evaluate vs base, File >
  /// Compare items with...).
  void showItemComparison(const results::ItemSet& a, const results::ItemSet& b, const results::ItemComparison& c);
  /// The run list (Runs tab): every results folder with scores.json opened in this window, overlaid and differenced.
  views::RunsView* runsView() const { return runs_; }
  /// The items shown in the Items tab when they came from a results folder (nullopt: none, or a comparison).
  const std::optional<results::ItemSet>& items() const { return itemSet_; }

  /// The comparison of two results folders already in the Runs list (base = A, other = B): only they are
  /// overlaid, the difference heatmap shows B - A, their items.jsonl (when both have one) are compared item by
  /// item in the Items tab, and the Runs tab is shown. False (nothing changes) when either is not in the list.
  bool showRunComparison(const QString& baseDir, const QString& otherDir);
  /// Folders in the Runs tab's list, in list order (shown folders and earlier ones).
  QStringList runFolders() const;
  /// Adds a results folder to the Runs list only (the results shown stay); throws when it cannot be read.
  void addRunFolder(const QString& dir);
  /// Sessions (panel_sessions.cpp): the figure toolbar, the current tab and the Runs list state (checked runs,
  /// score, A / B; the folders are runFolders()), and back; problems as "view.KEY: ...".
  QJsonObject sessionJson() const;
  void applySessionJson(const QJsonObject& o, QStringList& problems);
  /// The Runs list's folders of sessionJson() `o`, added in their order (call before opening the results shown).
  void restoreRunFolders(const QJsonObject& o, QStringList& problems);

  /// File > Export figure: the current tab as PDF / SVG / PNG (+ CSV), size from the toolbar's preset.
  void exportCurrentFigure();
  /// File > Export all figures: every figure the results support, plus figures.json.
  void exportAllFigures();
  /// Export figure on the Runs tab: asks for FILE, then exportRunsFigures.
  void exportRunsFigure();
  /// Writes the Runs tab's overlay to `file` and its difference heatmap (when drawn) to FILE-difference.EXT, each
  /// with its CSV; returns the figure files written. Throws on a write error.
  QStringList exportRunsFigures(const QString& file);

 Q_SIGNALS:
  /// New results are shown.
  void bundleChanged();
  /// For the status bar; `timeoutMs` 0: until the next message.
  void statusMessage(const QString& text, int timeoutMs);
  void errorOccurred(const QString& title, const QString& message);

 private:
  void buildToolBar();
  /// Adds `b`'s scores (when present) to the Runs list under a label made from `dir`.
  void addToRuns(const QString& dir, const results::ResultsBundle& b);
  void showBundle();
  void updateStyle();
  views::FigureStyle screenStyle() const;

  std::optional<results::ResultsBundle> bundle_;
  QStringList dirs_;
  views::LayerSelection* selection_;
  QToolBar* toolBar_;
  QComboBox* sizePreset_ = nullptr;
  QComboBox* colormap_ = nullptr;
  QCheckBox* twinAxes_ = nullptr;
  QCheckBox* exportSelection_ = nullptr;  // File > Export figure draws the selection band too
  QCheckBox* exportZoom_ = nullptr;       // File > Export figure keeps the view's zoom / pan
  QCheckBox* ranks_ = nullptr;
  QComboBox* profileMetric_ = nullptr;
  QComboBox* heatmapKind_ = nullptr;
  views::ProfileView* profile_;
  views::HeatmapView* heatmap_;
  views::ScatterView* scatter_;
  views::RedundancyView* redundancy_;
  views::ManipulationView* manipulation_;
  views::AblationView* ablation_;
  views::LayersTableModel* tableModel_;
  QTableView* table_;
  views::ItemsView* items_;
  views::RunsView* runs_;
  QMap<QString, QString> runDirs_;  // run label -> folder
  std::optional<results::ItemSet> itemSet_;
};

}  // namespace layerscope::app
