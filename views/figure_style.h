// Figure style shared by the GUI and exported files: sizes in inches at column widths, fonts in points,
// perceptually uniform colour maps (viridis, cividis) and a diverging map, a colour-blind-safe palette.
#pragma once

#include <QColor>
#include <QFont>
#include <QString>
#include <QStringList>

#include "views/qcp.h"

namespace layerscope::views {

/// Everything that decides how a figure looks. One instance drives the screen and the exported file.
struct FigureStyle {
  double widthIn = 3.5;     ///< figure width, inches (one column)
  double heightIn = 2.5;    ///< figure height, inches
  double dpi = 300;         ///< PNG resolution, dots per inch
  double fontPt = 8;        ///< tick labels and legend, points; axis labels +1, titles +1
  double lineWidthPt = 1.2; ///< data lines, points
  QString fontFamily = QStringLiteral("DejaVu Sans");
  QString colormap = QStringLiteral("viridis");  ///< viridis | cividis (magnitudes); signed data uses "diverging"
  double pxPerPt = 1.0;     ///< plot units per point: 1 for export, logicalDpi/72 on screen
  bool normalise = true;    ///< profiles: each divided by its max |value| on one axis (else twin axes)
  bool ranks = false;       ///< scatter: ranks instead of values
  bool dataCsv = true;      ///< export: write FILE.csv beside the figure
  bool exportSelection = false;  ///< export: draw the linked layer selection (transient UI state; off by default)
  bool exportZoom = false;       ///< export: keep a view's zoomed / panned ranges (off: the full figure)

  /// Plot size in plot units (1 unit = 1 point when exporting).
  int widthUnits() const { return int(std::lround(widthIn * 72.0 * pxPerPt)); }
  int heightUnits() const { return int(std::lround(heightIn * 72.0 * pxPerPt)); }
  /// A font of `pt` points (+ `delta`), sized in plot units so it scales with the export exactly.
  QFont font(double delta = 0, bool bold = false) const;
  double pen(double pt) const { return pt * pxPerPt; }
};

/// Size presets (inches): one column 3.5 x 2.5, two columns 7.0 x 3.0, slide 10 x 5.625. Integral in points.
enum class SizePreset { OneColumn, TwoColumn, Slide };
FigureStyle withPreset(FigureStyle s, SizePreset p);
QStringList presetNames();

/// viridis / cividis / diverging (blue-white-red, centre at 0.5) gradients from published colour stops.
QCPColorGradient gradientByName(const QString& name);
QStringList gradientNames();

/// Okabe-Ito colour-blind-safe palette; index wraps.
QColor seriesColor(int i);
/// Highlight colour for the linked layer selection.
QColor selectionColor();

/// Applies fonts, pens and background to every axis rect, legend and title element of `plot`.
void applyStyle(QCustomPlot* plot, const FigureStyle& s);

/// Number formatting for labels: 3 significant digits, scientific below 1e-3 ("1.66e-6").
QString fmt(double v, int sig = 3);
/// Exact value for tooltips and CSV (round-trip precision).
QString exact(double v);

}  // namespace layerscope::views
