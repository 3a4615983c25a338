// layerscope-cli figure: headless figure export from a results directory through the GUI's views code
// (QCustomPlot on the offscreen Qt platform when there is no display).
#include <QApplication>
#include <QDir>
#include <cstdlib>
#include <iostream>

#include "app/cli/command.h"
#include "core/base/error.h"
#include "results/reader.h"
#include "views/figure_export.h"

namespace layerscope::app {
namespace {

views::FigureStyle styleFromArgs(Args& args) {
  views::FigureStyle s;
  const std::string preset = args.valueOr("--preset", "one-column");
  if (preset == "one-column") s = views::withPreset(s, views::SizePreset::OneColumn);
  else if (preset == "two-column") s = views::withPreset(s, views::SizePreset::TwoColumn);
  else if (preset == "slide") s = views::withPreset(s, views::SizePreset::Slide);
  else throw InvalidArgument("--preset: expected one-column, two-column or slide, got '" + preset + "'");
  s.widthIn = args.doubleOr("--width-in", s.widthIn);
  s.heightIn = args.doubleOr("--height-in", s.heightIn);
  s.dpi = args.doubleOr("--dpi", s.dpi);
  s.fontPt = args.doubleOr("--font-pt", s.fontPt);
  s.colormap = QString::fromStdString(args.valueOr("--colormap", "viridis"));
  if (!views::gradientNames().contains(s.colormap))
    throw InvalidArgument("--colormap: expected viridis, cividis or diverging, got '" + s.colormap.toStdString() + "'");
  s.normalise = !args.flag("--twin-axes");
  s.ranks = args.flag("--ranks");
  s.dataCsv = !args.flag("--no-csv");
  if (s.widthIn <= 0 || s.heightIn <= 0 || s.dpi <= 0 || s.fontPt <= 0)
    throw InvalidArgument("--width-in, --height-in, --dpi and --font-pt must be positive");
  return s;
}

int runFigure(Args& args) {
  const std::string dir = args.required("--results");
  const std::string kindName = args.required("--kind");
  const std::string out = args.required("--out");
  const views::FigureStyle style = styleFromArgs(args);
  args.finish();
  // No display: draw on Qt's offscreen platform (fonts and vector output are identical).
  if (!std::getenv("QT_QPA_PLATFORM") && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY"))
    setenv("QT_QPA_PLATFORM", "offscreen", 1);
  static int argc = 1;
  static char name[] = "layerscope-cli";
  static char* argv[] = {name, nullptr};
  QApplication app(argc, argv);

  const auto bundle = results::readResultsDir(dir);
  const QString qout = QString::fromStdString(out);
  if (kindName == "all") {
    const auto manifest = views::exportAllFigures(bundle, qout, style);
    std::cerr << "wrote " << manifest.value(QStringLiteral("figures")).toArray().size() << " figures and figures.json to "
              << out << "\n";
    return 0;
  }
  const auto kind = views::parseFigureKind(QString::fromStdString(kindName));
  if (!kind)
    throw InvalidArgument("--kind: expected one of " + views::figureKindNames().join(QStringLiteral(", ")).toStdString() +
                          " or all, got '" + kindName + "'");
  auto view = views::makeFigure(*kind, bundle, style);
  views::exportFigure(*view, qout, style);
  std::cerr << "wrote " << out << " (" << style.widthIn << " x " << style.heightIn << " in";
  if (qout.endsWith(QStringLiteral(".png"), Qt::CaseInsensitive)) std::cerr << ", " << style.dpi << " dpi";
  std::cerr << ")" << (style.dataCsv ? " and its data as CSV" : "") << "\n";
  return 0;
}

const CommandRegistrar kFigure({
    "figure",
    "--results DIR --kind profile|heatmap|heatmap-metrics|scatter|redundancy|manipulation|ablation|all --out FILE.{pdf,svg,png}|DIR "
    "[--preset one-column|two-column|slide] [--width-in W --height-in H --dpi D --font-pt P] [--colormap viridis|cividis] "
    "[--twin-axes] [--ranks] [--no-csv]",
    "draw a figure from a results directory, as the GUI does (PDF/SVG vector, PNG at DPI; data beside as CSV)",
    runFigure});

}  // namespace
}  // namespace layerscope::app
