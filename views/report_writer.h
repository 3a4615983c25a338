// The reproduce report (docs/reproduce.md, "The report"): one self-contained HTML file (figures inline as SVG,
// tables, no external resources), a PDF of the same content (figures as vectors) and the data behind every number
// (CSV per figure and table, data/report.json). Drawn with the figure views of `layerscope-cli figure`, so it needs a
// QApplication (offscreen is enough) and runs on the GUI thread.
#pragma once

#include <QString>
#include <QStringList>
#include <filesystem>

namespace layerscope::views {

/// The section ids of report.html, in order (each a <section id="...">).
QStringList reportSectionIds();

struct ReportOutput {
  std::filesystem::path dir;   ///< the report folder
  std::filesystem::path html;  ///< report.html
  std::filesystem::path pdf;   ///< report.pdf
  int pdfPages = 0;
  QStringList dataFiles;       ///< relative to dir: data/*.csv, data/report.json
};

/// Reads the reproduce output folder `resultsDir` (views/report_data.h) and writes the report into `outDir`
/// (default: resultsDir/report), replacing an earlier one; the folder appears complete or not at all.
/// Throws results::ResultsError when the results are incomplete, layerscope::Error when a file cannot be written.
ReportOutput writeReproduceReport(const std::filesystem::path& resultsDir, const std::filesystem::path& outDir = {});

}  // namespace layerscope::views
