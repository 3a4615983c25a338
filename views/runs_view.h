// Run comparison (TensorBoard's run list): every results folder opened in this window stays in a run list; the
// checked runs' profiles of one layer score are overlaid on the same axes, and a difference heatmap shows run B
// minus run A for every shared layer score (relative to max |A| per row, diverging colours centred at 0).
// Passive: it draws the Scores it is given (results/run_comparison.h computes the differences).
#pragma once

#include <QWidget>
#include <vector>

#include "results/run_comparison.h"
#include "views/heatmap_view.h"
#include "views/plot_view.h"

class QComboBox;
class QLabel;
class QListWidget;

namespace layerscope::views {

/// One layer score of several runs on the same axes (values as stored, one colour and marker per run).
class ProfileOverlayView : public PlotView {
  Q_OBJECT
 public:
  explicit ProfileOverlayView(QWidget* parent = nullptr) : PlotView(parent) {}
  QString kind() const override { return QStringLiteral("overlay"); }
  QString csv() const override;
  bool hasData() const override { return !runs_.empty() && !key_.isEmpty(); }
  /// The runs (label + scores) and the layer_scores key to overlay; runs without the key are skipped.
  void setData(const QStringList& labels, const std::vector<results::Scores>& runs, const QString& key);

 protected:
  void build() override;
  QString tooltipAt(double key, double value) const override;
  int layerCount() const override;

 private:
  QStringList labels_;
  std::vector<results::Scores> runs_;
  QString key_;
};

/// B - A for every shared score as a heatmap (rows = scores, colour = (B - A) / max |A|; tooltips and CSV the raw
/// difference).
HeatmapData differenceHeatmap(const results::ProfileDifference& d, const QString& labelA, const QString& labelB);

class RunsView : public QWidget {
  Q_OBJECT
 public:
  explicit RunsView(QWidget* parent = nullptr);

  /// Adds a run (or replaces the run with the same label) and checks it; the newest two are A and B.
  void addRun(const QString& label, const results::Scores& scores);
  void removeRun(const QString& label);
  QStringList runLabels() const;
  /// Labels of the checked runs (overlaid).
  QStringList checkedRuns() const;
  void setChecked(const QString& label, bool checked);
  /// Chooses the overlaid key and the A / B runs of the difference heatmap (unknown names are ignored).
  void setKey(const QString& key);
  void setDifferenceRuns(const QString& a, const QString& b);
  /// The A and B runs of the difference heatmap ("" when fewer than one run).
  QString differenceRunA() const;
  QString differenceRunB() const;

  ProfileOverlayView* overlay() const { return overlay_; }
  HeatmapView* difference() const { return difference_; }
  QComboBox* keyCombo() const { return key_; }
  /// The checked runs with their labels (what the overlay draws), for export.
  void overlayData(QStringList& labels, std::vector<results::Scores>& runs) const;
  /// Why the difference heatmap is empty ("" when it is drawn).
  QString differenceNote() const;

 private:
  void refresh();
  int indexOf(const QString& label) const;

  QStringList labels_;
  std::vector<results::Scores> runs_;
  QListWidget* list_;
  QComboBox* key_;
  QComboBox* runA_;
  QComboBox* runB_;
  QLabel* note_;
  ProfileOverlayView* overlay_;
  HeatmapView* difference_;
  bool refreshing_ = false;
};

}  // namespace layerscope::views
