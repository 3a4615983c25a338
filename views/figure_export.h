// Figure export shared by the GUI and `layerscope-cli figure`: builds a view of a given kind from a results
// bundle, writes PDF (savePdf), SVG (QSvgGenerator + toPainter) or PNG (savePng, scale = DPI / 72) at an exact
// size in inches with fonts in points, the data beside as CSV, and "export all" with a JSON manifest.
// Needs a QApplication (any platform, offscreen included); call from the GUI thread.
#pragma once

#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <memory>
#include <optional>

#include "results/results.h"
#include "views/figure_style.h"
#include "views/plot_view.h"

namespace layerscope::views {

/// Heatmap: layer x KV-head RoPE influence (falls back to the metric heatmap); HeatmapMetrics: layer x every score.
enum class FigureKind { Profile, Heatmap, HeatmapMetrics, Scatter, Redundancy, Manipulation, Ablation };

QStringList figureKindNames();
std::optional<FigureKind> parseFigureKind(const QString& name);
QString figureKindName(FigureKind kind);
/// True when `bundle` holds the data the kind needs.
bool canMakeFigure(FigureKind kind, const results::ResultsBundle& bundle);
/// A view of `kind` showing `bundle` in `style`; throws results::ResultsError naming what is missing.
std::unique_ptr<PlotView> makeFigure(FigureKind kind, const results::ResultsBundle& bundle, const FigureStyle& style,
                                     LayerSelection* selection = nullptr);

/// Writes `view` as PDF / SVG / PNG (chosen by the suffix of `file`) at style's size; with style.dataCsv also
/// FILE.csv. Throws layerscope::Error on an unknown suffix or a write failure. The file appears atomically.
void exportFigure(PlotView& view, const QString& file, const FigureStyle& style);

/// Writes every figure `bundle` supports, in each of `formats` ("pdf", "svg", "png"), into `dir`, plus
/// figures.json listing options, style, fingerprints and files. Returns that manifest.
QJsonObject exportAllFigures(const results::ResultsBundle& bundle, const QString& dir, const FigureStyle& style,
                             const QStringList& formats = {QStringLiteral("pdf"), QStringLiteral("svg"), QStringLiteral("png")});

/// Writes `text` to `file` with QSaveFile; throws on failure.
void saveTextFile(const QString& file, const QString& text);

}  // namespace layerscope::views
