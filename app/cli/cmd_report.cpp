// layerscope-cli report: the reproduce report (HTML with inline SVG, PDF, data as CSV/JSON) from a `reproduce`
// output folder, drawn with the GUI's figure views (views/report_writer.h). Runs in the launcher, which links Qt;
// `reproduce` (in layerscope-cli-model, no Qt) calls it at its end.
#include <QApplication>
#include <cstdlib>
#include <iostream>

#include "app/cli/command.h"
#include "views/report_writer.h"

namespace layerscope::app {
namespace {

int runReport(Args& args) {
  const std::string dir = args.required("--results");
  const std::string out = args.valueOr("--out", "");
  args.finish();
  // No display: draw on Qt's offscreen platform (fonts and vector output are identical).
  if (!std::getenv("QT_QPA_PLATFORM") && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY"))
    setenv("QT_QPA_PLATFORM", "offscreen", 1);
  static int argc = 1;
  static char name[] = "layerscope-cli";
  static char* argv[] = {name, nullptr};
  QApplication app(argc, argv);
  const auto r = views::writeReproduceReport(dir, out);
  std::cout << "wrote " << r.html.string() << ", " << r.pdf.string() << " (" << r.pdfPages << " pages) and "
            << r.dataFiles.size() - 1 << " data files in " << (r.dir / "data").string() << "\n";
  return 0;
}

const CommandRegistrar kReport({"report", "--results DIR [--out DIR]",
                                "the reproduce report from a `reproduce` output folder: report.html (figures inline as SVG), "
                                "report.pdf and the data behind every number (default --out: DIR/report)",
                                runReport});

}  // namespace
}  // namespace layerscope::app
