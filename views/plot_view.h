// Base of every plot view: one QCustomPlot, the figure style, the linked layer selection (click / drag on the
// layer axis requests a selection; the shared LayerSelection's changes are drawn as bands), hover tooltips
// with exact values, and the figure's data as CSV for export. Views are passive: they draw what they are given.
#pragma once

#include <QMap>
#include <QPair>
#include <QPointer>
#include <QWidget>
#include <optional>

#include "views/qcp.h"

#include "results/results.h"
#include "views/figure_style.h"
#include "views/layer_selection.h"

namespace layerscope::views {

class PlotView : public QWidget {
  Q_OBJECT
 public:
  explicit PlotView(QWidget* parent = nullptr);

  QCustomPlot* plot() const { return plot_; }
  /// Figure kind as used by `layerscope-cli figure --kind` and export file names.
  virtual QString kind() const = 0;
  /// The plotted data as CSV (header line, one row per point), written beside exported figures.
  virtual QString csv() const = 0;
  /// True once data has been set and something is drawn.
  virtual bool hasData() const = 0;

  const FigureStyle& figureStyle() const { return style_; }
  void setFigureStyle(const FigureStyle& s);
  /// Connects to a shared selection (nullptr: none). The view draws its bands and requests changes on it.
  void setSelection(LayerSelection* selection);
  /// Whether the linked selection is drawn (default true). Export turns it off unless the style asks for it:
  /// the band is transient UI state, not part of the figure.
  void setSelectionShown(bool shown);
  bool selectionShown() const { return selectionShown_; }
  /// Lays the plot out at `width` x `height` plot units (as export draws it) without drawing.
  void layoutAt(int width, int height);
  /// Pixel rectangles of the drawn data (graph points and the lines between them, bars) of `rect`, at the
  /// current layout: what a legend must not cover.
  QList<QRectF> dataRects(QCPAxisRect* rect) const;

  // Zoom and pan (plot_view_zoom.cpp). Mouse: the wheel zooms about the cursor (inside a scrolling dock only when
  // the plot has focus or Ctrl is held), a middle-button or Shift + left drag pans (a plain left drag too on plots
  // without a layer axis, where it selects nothing). Keys: + / - zoom, arrows pan, 0 or Home resets. Context menu:
  // Zoom in, Zoom out, Reset view. The zoomed ranges survive rebuilds (new points, style) until reset; exports
  // draw the full figure unless FigureStyle::exportZoom.
  /// Axis ranges by (axis rect index, axis index), empty when the view shows the full figure.
  using ViewRanges = QMap<QPair<int, int>, QCPRange>;
  /// Scales every axis of the main rect (or the rect under `centerPx`) about the centre (or `centerPx`);
  /// factor < 1 zooms in.
  void zoomBy(double factor, std::optional<QPointF> centerPx = std::nullopt);
  /// Moves the main rect's view by fractions of the visible range (positive: right / up).
  void panBy(double fx, double fy);
  void resetView();
  bool isZoomed() const { return !viewRanges_.isEmpty(); }
  ViewRanges viewRanges() const { return viewRanges_; }
  void setViewRanges(const ViewRanges& ranges);
  /// Zoom in, Zoom out, Reset view (the context menu).
  QList<QAction*> viewActions() const { return viewActions_; }

 Q_SIGNALS:
  /// User intent: the user clicked or dragged over these layers (also applied to the linked selection).
  void layersSelected(const QVector<int>& layers);

 protected:
  /// Rebuilds every plottable and item from the stored data and the style, then replots.
  void rebuild();
  virtual void build() = 0;
  /// Tooltip text for a plot position (in axis coordinates of the main axis rect), empty for none.
  virtual QString tooltipAt(double key, double value) const = 0;
  /// Layers covered by a click (x0 == x1) or drag from key x0 to x1; default: integer layers in range.
  virtual QVector<int> layersForDrag(double x0, double y0, double x1, double y1) const;
  /// Draws translucent bands for the selected layers on the x axis of `rect` (layers as keys). `overData`:
  /// outlined bands on a layer above the data (for opaque plottables such as colour maps).
  void drawSelectionBands(QCPAxisRect* rect, double halfWidth = 0.5, bool overData = false);
  virtual void drawSelection() { drawSelectionBands(plot_->axisRect()); }
  /// Number of layers shown on the x axis (0: no layer axis, selection disabled).
  virtual int layerCount() const { return 0; }
  /// Moves the legend out of the plot into a row below it, `columns` entries per row.
  void placeLegendBelow(int columns);
  /// Puts the legend where it covers no data at the figure size: inside the main axis rect in the first
  /// corner (or top centre) that is free, 1 or 2 columns; else at the top with headroom added to the value axis
  /// when that costs at most 40% of the height (`allowHeadroom`); else below the plot in as many columns as fit.
  void placeLegendClearOfData(bool allowHeadroom = true);
  /// Places items whose position depends on the laid-out figure (labels kept clear of the data), at the figure
  /// size after build(), the fonts, the layer labels and the legend (rebuild()); the viewport is restored after.
  virtual void placeAfterLayout() {}
  /// Adds a bold title row above the main axis rect.
  void setTitle(const QString& text);
  /// Ticks every layer on `axis` and labels every layer whose label fits (measured at the figure size; with
  /// more layers every 2nd / 4th label, ticks on all); no zero line across layer 0.
  void tickEveryLayer(QCPAxis* axis, int layers);

  LayerSelection* selection_ = nullptr;

 private:
  void keyPressEvent(QKeyEvent* e) override;
  bool eventFilter(QObject* watched, QEvent* e) override;  // the plot's wheel events
  /// Zooms, or (inside a scrolling dock, unfocused, no Ctrl) passes the event on so the dock scrolls.
  void onWheel(QWheelEvent* e);
  /// Pans the rect's axes so the data point under `from` moves to `to` (pixels).
  void panPixels(QCPAxisRect* rect, QPointF from, QPointF to);
  /// Records every axis range as the view (after a zoom or pan).
  void captureView();
  void applyViewRanges();
  void buildViewActions();
  void onPress(QMouseEvent* e);
  void onMove(QMouseEvent* e);
  void onRelease(QMouseEvent* e);
  void redrawSelection();
  void placeLegendNow(bool allowHeadroom);
  void fitLayerLabels();

  QCustomPlot* plot_;
  FigureStyle style_;
  QList<QCPAbstractItem*> selectionItems_;
  bool dragging_ = false;
  bool legendBelow_ = false;
  bool selectionShown_ = true;
  int legendPlacement_ = 0;
  QList<QPair<QCPAxis*, int>> layerAxes_;  // tickEveryLayer's axes and layer counts, labelled by fitLayerLabels  // 0 none, 1 clear of data, 2 clear of data with headroom
  QPointF dragStart_;
  QCPItemRect* rubber_ = nullptr;
  ViewRanges viewRanges_;
  QList<QAction*> viewActions_;
  bool panning_ = false;
  QPointF panLast_;
  QCPAxisRect* panRect_ = nullptr;
};

}  // namespace layerscope::views
