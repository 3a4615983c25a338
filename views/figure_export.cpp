#include "views/figure_export.h"

#include <QBuffer>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSvgGenerator>

#include "views/ablation_view.h"
#include "views/heatmap_view.h"
#include "views/manipulation_view.h"
#include "views/profile_view.h"
#include "views/redundancy_view.h"
#include "views/scatter_view.h"

namespace layerscope::views {
namespace {

struct KindName {
  FigureKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {{FigureKind::Profile, "profile"},           {FigureKind::Heatmap, "heatmap"},
                               {FigureKind::HeatmapMetrics, "heatmap-metrics"}, {FigureKind::Scatter, "scatter"},
                               {FigureKind::Redundancy, "redundancy"},     {FigureKind::Manipulation, "manipulation"},
                               {FigureKind::Ablation, "ablation"}};

std::string firstHeadKey(const results::Scores& s) {
  for (const auto& [k, m] : s.layerHeadScores)
    if (k.rfind("rope_influence", 0) == 0) return k;
  return s.layerHeadScores.empty() ? std::string() : s.layerHeadScores.begin()->first;
}

bool hasRedundancy(const results::ResultsBundle& b) {
  if (b.drop && !b.drop->similarity.empty()) return true;
  return b.scores && (b.scores->has("redundancy.attn") || b.scores->has("redundancy.mlp") || b.scores->has("redundancy.block"));
}

bool hasPair(const results::ResultsBundle& b) {
  if (!b.scores) return false;
  const std::string s = b.stats ? b.stats->sensitivityKey : "sensitivity.rel_l2";
  const std::string r = b.stats ? b.stats->ropeKey : "rope_influence.gradient";
  return b.scores->has(s) && b.scores->has(r);
}

QJsonObject styleJson(const FigureStyle& s) {
  return {{QStringLiteral("width_in"), s.widthIn}, {QStringLiteral("height_in"), s.heightIn},
          {QStringLiteral("dpi"), s.dpi},          {QStringLiteral("font_pt"), s.fontPt},
          {QStringLiteral("font_family"), s.fontFamily}, {QStringLiteral("colormap"), s.colormap},
          {QStringLiteral("normalise"), s.normalise},    {QStringLiteral("ranks"), s.ranks}};
}

QJsonValue fromNlohmann(const nlohmann::json& j) {
  return QJsonDocument::fromJson(QByteArray::fromStdString(nlohmann::json{{"v", j}}.dump())).object().value(QStringLiteral("v"));
}

}  // namespace

QStringList figureKindNames() {
  QStringList out;
  for (const auto& k : kKinds) out << QString::fromLatin1(k.name);
  return out;
}

std::optional<FigureKind> parseFigureKind(const QString& name) {
  for (const auto& k : kKinds)
    if (name == QLatin1String(k.name)) return k.kind;
  return std::nullopt;
}

QString figureKindName(FigureKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return QString::fromLatin1(k.name);
  return {};
}

bool canMakeFigure(FigureKind kind, const results::ResultsBundle& b) {
  switch (kind) {
    case FigureKind::Profile: return b.scores.has_value() && !b.scores->layerScores.empty();
    case FigureKind::Heatmap: return b.scores && (!b.scores->layerHeadScores.empty() || !metricHeatmap(*b.scores).values.empty());
    case FigureKind::HeatmapMetrics: return b.scores && !metricHeatmap(*b.scores).values.empty();
    case FigureKind::Scatter: return hasPair(b);
    case FigureKind::Redundancy: return hasRedundancy(b);
    case FigureKind::Manipulation: return b.manipulation.has_value();
    case FigureKind::Ablation: return b.ablation.has_value();
  }
  return false;
}

std::unique_ptr<PlotView> makeFigure(FigureKind kind, const results::ResultsBundle& b, const FigureStyle& style,
                                     LayerSelection* selection) {
  if (!canMakeFigure(kind, b)) {
    static const char* const kNeeds[] = {
        "scores.json with layer_scores", "scores.json with layer_head_scores or layer scores",
        "scores.json with layer_scores",
        "scores.json with the sensitivity and RoPE-influence profiles named in stats.json",
        "redundancy.* scores in scores.json or a drop.json", "manipulation.json", "report.json (ablation)"};
    throw results::ResultsError("cannot draw a '" + figureKindName(kind).toStdString() + "' figure from '" +
                                b.dir.string() + "': it needs " + kNeeds[int(kind)]);
  }
  std::unique_ptr<PlotView> view;
  switch (kind) {
    case FigureKind::Profile: {
      auto v = std::make_unique<ProfileView>();
      v->setData(*b.scores, b.stats);
      view = std::move(v);
      break;
    }
    case FigureKind::Heatmap:
    case FigureKind::HeatmapMetrics: {
      auto v = std::make_unique<HeatmapView>();
      const std::string key = kind == FigureKind::Heatmap ? firstHeadKey(*b.scores) : std::string();
      v->setData(key.empty() ? metricHeatmap(*b.scores) : headHeatmap(*b.scores, key));
      view = std::move(v);
      break;
    }
    case FigureKind::Scatter: {
      auto v = std::make_unique<ScatterView>();
      v->setData(*b.scores, b.stats);
      view = std::move(v);
      break;
    }
    case FigureKind::Redundancy: {
      auto v = std::make_unique<RedundancyView>();
      v->setData(b.scores, b.drop);
      view = std::move(v);
      break;
    }
    case FigureKind::Manipulation: {
      auto v = std::make_unique<ManipulationView>();
      v->setData(*b.manipulation);
      view = std::move(v);
      break;
    }
    case FigureKind::Ablation: {
      auto v = std::make_unique<AblationView>();
      v->setData(*b.ablation);
      view = std::move(v);
      break;
    }
  }
  view->setFigureStyle(style);
  view->setSelection(selection);
  view->resize(style.widthUnits(), style.heightUnits());
  return view;
}

void saveTextFile(const QString& file, const QString& text) {
  QSaveFile f(file);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Text) || f.write(text.toUtf8()) < 0 || !f.commit())
    throw Error("cannot write '" + file.toStdString() + "': " + f.errorString().toStdString());
}

void exportFigure(PlotView& view, const QString& file, const FigureStyle& styleIn) {
  FigureStyle style = styleIn;
  style.pxPerPt = 1.0;  // 1 plot unit = 1 pt in every exported format
  // The selection band is on-screen state: drawn only when asked for, and restored on the view afterwards.
  struct SelectionRestore {
    PlotView& view;
    bool shown;
    ~SelectionRestore() { view.setSelectionShown(shown); }
  } restore{view, view.selectionShown()};
  view.setSelectionShown(style.exportSelection);
  // A zoomed view is on-screen state too: the full figure unless asked for, the zoom restored afterwards.
  struct ZoomRestore {
    PlotView& view;
    PlotView::ViewRanges ranges;
    ~ZoomRestore() {
      if (!ranges.isEmpty()) view.setViewRanges(ranges);
    }
  } zoom{view, style.exportZoom ? PlotView::ViewRanges{} : view.viewRanges()};
  if (!zoom.ranges.isEmpty()) view.resetView();
  view.setFigureStyle(style);
  const int w = style.widthUnits(), h = style.heightUnits();
  if (w <= 0 || h <= 0 || style.dpi <= 0)
    throw InvalidArgument("figure size must be positive, got " + std::to_string(style.widthIn) + " x " +
                          std::to_string(style.heightIn) + " in at " + std::to_string(style.dpi) + " dpi");
  const QString suffix = QFileInfo(file).suffix().toLower();
  const QString tmp = file + QStringLiteral(".part");
  QCustomPlot* plot = view.plot();
  const QString title = QStringLiteral("LayerScope %1").arg(view.kind());
  bool ok = false;
  if (suffix == QLatin1String("pdf")) {
    ok = plot->savePdf(tmp, w, h, QCP::epNoCosmetic, QStringLiteral("LayerScope"), title);
  } else if (suffix == QLatin1String("png")) {
    ok = plot->savePng(tmp, w, h, style.dpi / 72.0, -1, int(std::lround(style.dpi)), QCP::ruDotsPerInch);
  } else if (suffix == QLatin1String("svg")) {
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator gen;
    gen.setOutputDevice(&buffer);
    gen.setSize(QSize(w, h));
    gen.setViewBox(QRect(0, 0, w, h));
    gen.setResolution(72);
    gen.setTitle(title);
    gen.setDescription(QStringLiteral("LayerScope figure"));
    QCPPainter painter;
    if (painter.begin(&gen)) {
      plot->toPainter(&painter, w, h);
      painter.end();
      QFile out(tmp);
      ok = out.open(QIODevice::WriteOnly) && out.write(buffer.data()) == buffer.size();
    }
  } else {
    throw InvalidArgument("cannot export '" + file.toStdString() + "': expected a .pdf, .svg or .png file name");
  }
  if (!ok || !QFileInfo::exists(tmp)) {
    QFile::remove(tmp);
    throw Error("writing the figure '" + file.toStdString() + "' failed; check that the folder exists and is writable");
  }
  QFile::remove(file);
  if (!QFile::rename(tmp, file)) {
    QFile::remove(tmp);
    throw Error("cannot move the figure into place at '" + file.toStdString() + "'");
  }
  if (style.dataCsv) saveTextFile(QFileInfo(file).path() + QLatin1Char('/') + QFileInfo(file).completeBaseName() + QStringLiteral(".csv"), view.csv());
}

QJsonObject exportAllFigures(const results::ResultsBundle& bundle, const QString& dir, const FigureStyle& style,
                             const QStringList& formats) {
  if (!QDir().mkpath(dir)) throw Error("cannot create the export folder '" + dir.toStdString() + "'");
  QJsonArray figures;
  for (const auto& k : kKinds) {
    if (!canMakeFigure(k.kind, bundle)) continue;
    if (k.kind == FigureKind::HeatmapMetrics && !(bundle.scores && !bundle.scores->layerHeadScores.empty())) continue;
    auto view = makeFigure(k.kind, bundle, style);
    QJsonArray files;
    for (const QString& fmtName : formats) {
      const QString name = QString::fromLatin1(k.name) + QLatin1Char('.') + fmtName;
      FigureStyle s = style;
      s.dataCsv = false;
      exportFigure(*view, QDir(dir).filePath(name), s);
      files.append(name);
    }
    const QString csvName = QString::fromLatin1(k.name) + QStringLiteral(".csv");
    saveTextFile(QDir(dir).filePath(csvName), view->csv());
    figures.append(QJsonObject{{QStringLiteral("kind"), QString::fromLatin1(k.name)},
                               {QStringLiteral("files"), files},
                               {QStringLiteral("data"), csvName}});
  }
  if (figures.isEmpty()) throw results::ResultsError("'" + bundle.dir.string() + "' holds nothing to draw");
  QJsonObject manifest{{QStringLiteral("format"), QStringLiteral("layerscope.figures/1")},
                       {QStringLiteral("created_utc"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate)},
                       {QStringLiteral("results_dir"), QString::fromStdString(bundle.dir.string())},
                       {QStringLiteral("fingerprints"), fromNlohmann(bundle.fingerprints())},
                       {QStringLiteral("style"), styleJson(style)},
                       {QStringLiteral("figures"), figures}};
  if (bundle.scores) {
    manifest.insert(QStringLiteral("analysis_options"), fromNlohmann(bundle.scores->options));
    manifest.insert(QStringLiteral("model"), fromNlohmann(bundle.scores->model));
    manifest.insert(QStringLiteral("task"), fromNlohmann(bundle.scores->task));
  }
  if (bundle.stats)
    manifest.insert(QStringLiteral("profiles"), QJsonObject{{QStringLiteral("sensitivity"), QString::fromStdString(bundle.stats->sensitivityKey)},
                                                            {QStringLiteral("rope"), QString::fromStdString(bundle.stats->ropeKey)}});
  saveTextFile(QDir(dir).filePath(QStringLiteral("figures.json")), QString::fromUtf8(QJsonDocument(manifest).toJson()));
  return manifest;
}

}  // namespace layerscope::views
