// The reproduce report: HTML with inline SVG, PDF through QTextDocument's page layout with the figures drawn as
// vectors over placeholders, and the data files (see report_writer.h).
#include "views/report_writer.h"

#include <QAbstractTextDocumentLayout>
#include <QBuffer>
#include <QDateTime>
#include <QImage>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <QSysInfo>
#include <QTextBlock>
#include <QTextDocument>
#include <QTextLayout>
#include <cmath>
#include <memory>
#include <vector>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "results/reader.h"
#include "views/figure_export.h"
#include "views/report_data.h"

namespace layerscope::views {
namespace fs = std::filesystem;

QStringList reportSectionIds() {
  return {QStringLiteral("summary"),  QStringLiteral("paper-vs-run"), QStringLiteral("profiles"),
          QStringLiteral("heatmap"),  QStringLiteral("scatter"),      QStringLiteral("top-k"),
          QStringLiteral("ablation"), QStringLiteral("humaneval"),    QStringLiteral("provenance"),
          QStringLiteral("data")};
}

namespace {

QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }

QString tableHtml(const ReportTable& t) {
  QString h = QStringLiteral("<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\" width=\"100%\">\n<tr>");
  for (const auto& c : t.header) h += QStringLiteral("<th>") + esc(c) + QStringLiteral("</th>");
  h += QStringLiteral("</tr>\n");
  for (const auto& r : t.rows) {
    h += QStringLiteral("<tr>");
    for (const auto& c : r) h += QStringLiteral("<td>") + esc(c) + QStringLiteral("</td>");
    h += QStringLiteral("</tr>\n");
  }
  return h + QStringLiteral("</table>\n<p class=\"src\">Data: <code>data/") + esc(t.name) + QStringLiteral(".csv</code></p>\n");
}

/// `view` drawn into SVG markup (without the XML prolog), at style's size in points.
QString svgOf(PlotView& view, const FigureStyle& style) {
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  QSvgGenerator gen;
  gen.setOutputDevice(&buffer);
  const int w = style.widthUnits(), h = style.heightUnits();
  gen.setSize(QSize(w, h));
  gen.setViewBox(QRect(0, 0, w, h));
  gen.setResolution(72);
  gen.setTitle(QStringLiteral("LayerScope %1").arg(view.kind()));
  QCPPainter painter;
  if (!painter.begin(&gen)) throw Error("report: cannot draw the " + view.kind().toStdString() + " figure as SVG");
  view.plot()->toPainter(&painter, w, h);
  painter.end();
  QString svg = QString::fromUtf8(buffer.data());
  const qsizetype start = svg.indexOf(QStringLiteral("<svg"));
  return start < 0 ? QString() : svg.mid(start);
}

/// The report assembled twice from the same parts: `html` for the file (figures inline as SVG) and `pdfHtml` for
/// QTextDocument (figures as sized placeholder images, drawn as vectors afterwards).
struct Assembly {
  QString html, pdfHtml;
  std::vector<std::unique_ptr<PlotView>> views;  ///< figure i is named "fig:<i>" in pdfHtml
  FigureStyle style;

  void both(const QString& s) {
    html += s;
    pdfHtml += s;
  }
  void section(const QString& id, const QString& title) {
    html += QStringLiteral("<section id=\"") + id + QStringLiteral("\">\n");
    both(QStringLiteral("<h2>") + title.toHtmlEscaped() + QStringLiteral("</h2>\n"));
  }
  void endSection() { html += QStringLiteral("</section>\n"); }
  void figure(std::unique_ptr<PlotView> view, const QString& caption) {
    const int i = int(views.size());
    html += QStringLiteral("<figure>\n") + svgOf(*view, style) + QStringLiteral("\n<figcaption>") + caption.toHtmlEscaped() +
            QStringLiteral("</figcaption>\n</figure>\n");
    // @W@ and @H@: the figure's size in the units QTextDocument gives an image's width and height attributes on
    // the PDF device (writePdf measures them).
    pdfHtml += QStringLiteral("<p><img src=\"fig:%1\" width=\"@W@\" height=\"@H@\"/></p>\n<p><i>%2</i></p>\n")
                   .arg(i)
                   .arg(caption.toHtmlEscaped());
    views.push_back(std::move(view));
  }
};

std::unique_ptr<PlotView> figureOf(FigureKind kind, const results::ResultsBundle& b, const FigureStyle& style) {
  auto view = makeFigure(kind, b, style);
  view->setSelectionShown(false);
  view->setFigureStyle(style);
  return view;
}

/// Writes the PDF: QTextDocument lays the content out in pages (rows and lines never straddle a page), each page is
/// drawn, then each figure's vector drawing is put where its placeholder landed. Returns the page count.
int writePdf(const Assembly& a, const fs::path& file) {
  QPdfWriter writer(QString::fromStdString(file.string()));
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setPageMargins(QMarginsF(36, 36, 36, 36), QPageLayout::Point);
  writer.setResolution(72);  // one device unit = one point, as the figures are drawn
  writer.setTitle(QStringLiteral("LayerScope reproduce report"));
  writer.setCreator(QStringLiteral("LayerScope"));
  const QSizeF page(writer.width(), writer.height());

  QTextDocument doc;
  doc.documentLayout()->setPaintDevice(&writer);
  QFont font(a.style.fontFamily);
  font.setPointSizeF(8.5);
  doc.setDefaultFont(font);
  QImage blank(1, 1, QImage::Format_ARGB32);
  blank.fill(Qt::transparent);
  for (size_t i = 0; i < a.views.size(); ++i)
    doc.addResource(QTextDocument::ImageResource, QUrl(QStringLiteral("fig:%1").arg(i)), blank);
  // Where each placeholder landed (document coordinates; page p spans y in [p * height, (p + 1) * height)) and
  // how tall it came out: image attributes are scaled by the device's DPI against the screen's, so the first layout
  // measures that factor and a second one sizes the placeholders to the figures exactly.
  std::vector<QPointF> at;
  std::vector<double> laidHeight;
  auto layout = [&](double attrPerPoint) {
    QString html = a.pdfHtml;
    html.replace(QStringLiteral("@W@"), QString::number(qRound(a.style.widthUnits() * attrPerPoint)));
    html.replace(QStringLiteral("@H@"), QString::number(qRound(a.style.heightUnits() * attrPerPoint)));
    doc.setHtml(html);
    doc.setPageSize(page);
    at.assign(a.views.size(), QPointF(-1, -1));
    laidHeight.assign(a.views.size(), 0);
    for (QTextBlock block = doc.begin(); block.isValid(); block = block.next()) {
      const QRectF br = doc.documentLayout()->blockBoundingRect(block);
      for (auto it = block.begin(); !it.atEnd(); ++it) {
        const QTextFragment frag = it.fragment();
        if (!frag.charFormat().isImageFormat()) continue;
        const QString name = frag.charFormat().toImageFormat().name();
        if (!name.startsWith(QStringLiteral("fig:"))) continue;
        const size_t i = size_t(name.mid(4).toInt());
        const QTextLine line = block.layout()->lineForTextPosition(frag.position() - block.position());
        if (i >= at.size() || !line.isValid()) continue;
        at[i] = br.topLeft() + QPointF(line.cursorToX(frag.position() - block.position()), line.y());
        laidHeight[i] = line.ascent();  // an image sits on the baseline: its height is the line's ascent
      }
    }
  };
  layout(1.0);
  if (!laidHeight.empty() && laidHeight[0] > 0) layout(a.style.heightUnits() / laidHeight[0]);
  for (size_t i = 0; i < at.size(); ++i)
    if (std::abs(laidHeight[i] - a.style.heightUnits()) > 2)
      throw Error("report: figure " + a.views[i]->kind().toStdString() + " was laid out " + std::to_string(laidHeight[i]) +
                  " pt tall in the PDF, expected " + std::to_string(a.style.heightUnits()));

  for (size_t i = 0; i < at.size(); ++i)
    if (at[i].y() < 0) throw Error("report: figure " + a.views[i]->kind().toStdString() + " was not laid out in the PDF");
  QCPPainter painter;
  if (!painter.begin(&writer)) throw Error("report: cannot write " + file.string());
  const int pages = doc.pageCount();
  for (int p = 0; p < pages; ++p) {
    if (p > 0) writer.newPage();
    painter.save();
    painter.translate(0, -p * page.height());
    doc.drawContents(&painter, QRectF(0, p * page.height(), page.width(), page.height()));
    painter.restore();
    for (size_t i = 0; i < a.views.size(); ++i) {
      if (at[i].y() < p * page.height() || at[i].y() >= (p + 1) * page.height()) continue;
      painter.save();
      painter.translate(at[i].x(), at[i].y() - p * page.height());
      a.views[i]->plot()->toPainter(&painter, a.style.widthUnits(), a.style.heightUnits());
      painter.restore();
    }
  }
  if (!painter.end()) throw Error("report: cannot finish " + file.string());
  return pages;
}

const char* kCss =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #999;padding:3px 6px;text-align:left;"
    "vertical-align:top;font-size:0.9em}th{background:#eee}.warn{background:#fff3cd;border:1px solid #e0c060;"
    "padding:0.5em}.src{color:#666;font-size:0.8em}figure{margin:1em 0}figcaption{font-style:italic;font-size:0.9em}";

}  // namespace

ReportOutput writeReproduceReport(const fs::path& resultsDir, const fs::path& outDirIn) {
  const ReproduceReportData d = readReproduceReport(resultsDir);
  const fs::path outDir = outDirIn.empty() ? resultsDir / "report" : outDirIn;
  const auto& b = d.bundle;
  const auto& st = *b.stats;

  Assembly a;
  a.style = withPreset(FigureStyle{}, SizePreset::TwoColumn);
  a.style.pxPerPt = 1.0;
  a.style.dataCsv = false;
  a.html = QStringLiteral("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                          "<title>LayerScope: reproducing the co-localization study</title>\n<style>") +
           QString::fromLatin1(kCss) + QStringLiteral("</style>\n</head>\n<body>\n");
  a.both(QStringLiteral("<h1>Sensitivity-positional co-localization: paper vs this run</h1>\n"));

  a.section(QStringLiteral("summary"), QStringLiteral("Summary"));
  const QString modelWarn =
      d.sameShapeAsPaper
          ? QStringLiteral("The model has Llama 3.1 8B's shape (the paper's model); its weights were not compared.")
          : QStringLiteral("Different model: this run's model is not the paper's Llama 3.1 8B (") +
                esc([&] {
                  std::string s;
                  for (size_t i = 0; i < d.shapeDifferences.size(); ++i) s += (i ? ", " : "") + d.shapeDifferences[i];
                  return s;
                }()) +
                QStringLiteral("). Its numbers are set beside the paper's for reference, not as a replication.");
  a.both(QStringLiteral("<p class=\"warn\"><b>") + modelWarn + QStringLiteral("</b></p>\n"));
  a.both(QStringLiteral("<p>Co-localization on this run: ") + esc(st.verdictText.empty() ? st.verdict : st.verdictText) +
         QStringLiteral(". Paper values are as reported in the abstract of arXiv 2604.07766 (Llama 3.1 8B): task-sensitive "
                        "layers 23-31, RoPE-influential layers 0-9, r_s = -0.735, p = 1.66e-6, n = 32, LS-LoRA + GARFA on "
                        "the sensitivity layers ahead of the other placements by 4-16 points, HumanEval+ 67.1%.</p>\n"));
  const auto missing = d.summary.value("missing_benchmarks", nlohmann::json::array());
  if (!missing.empty())
    a.both(QStringLiteral("<p>Benchmarks missing from this run (not evaluated): ") + esc(missing.dump()) + QStringLiteral("</p>\n"));
  a.endSection();

  std::vector<ReportTable> tables = {d.paperVsRun(), d.colocalization(), d.topK(), d.ablation(), d.humaneval(), d.provenance()};
  tables.back().rows.push_back({"report written (UTC)", QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString()});
  tables.back().rows.push_back({"report machine", (QSysInfo::machineHostName() + QStringLiteral(", ") + QSysInfo::prettyProductName() +
                                                   QStringLiteral(", ") + QSysInfo::currentCpuArchitecture()).toStdString()});
  a.section(QStringLiteral("paper-vs-run"), QStringLiteral("Paper vs this run"));
  a.both(tableHtml(tables[0]));
  a.endSection();

  a.section(QStringLiteral("profiles"), QStringLiteral("Sensitivity and RoPE-influence profiles"));
  a.figure(figureOf(FigureKind::Profile, b, a.style),
           QStringLiteral("Per-layer %1 and %2 (each divided by its largest magnitude), bootstrap bands where computed; "
                          "grey: the top-k sets. Data: data/profile.csv")
               .arg(QString::fromStdString(st.sensitivityKey), QString::fromStdString(st.ropeKey)));
  a.endSection();

  a.section(QStringLiteral("heatmap"), QStringLiteral("RoPE influence per layer and KV head"));
  a.figure(figureOf(FigureKind::Heatmap, b, a.style), QStringLiteral("Layer x KV-head RoPE influence. Data: data/heatmap.csv"));
  a.endSection();

  a.section(QStringLiteral("scatter"), QStringLiteral("Co-localization statistics"));
  a.figure(figureOf(FigureKind::Scatter, b, a.style),
           QStringLiteral("Sensitivity against RoPE influence, one point per layer. Data: data/scatter.csv"));
  a.both(tableHtml(tables[1]));
  a.endSection();

  a.section(QStringLiteral("top-k"), QStringLiteral("Top-k layer sets and Jaccard"));
  a.both(tableHtml(tables[2]));
  a.endSection();

  a.section(QStringLiteral("ablation"), QStringLiteral("4-way ablation (C1-C5)"));
  if (b.ablation && canMakeFigure(FigureKind::Ablation, b)) {
    a.both(QStringLiteral("<p>C1: LoRA and GARFA on S_sens; C2: LoRA on S_sens, GARFA on S_rope; C3: LoRA on S_rope, GARFA "
                          "on S_sens; C4: both on S_rope; C5: random layers (mean over its seeds). Cells: accuracy "
                          "(points vs the base model).</p>\n"));
    a.both(tableHtml(tables[3]));
    a.figure(figureOf(FigureKind::Ablation, b, a.style), QStringLiteral("Accuracy per task and arm. Data: data/ablation_figure.csv"));
  } else {
    a.both(QStringLiteral("<p>No ablation results in this folder.</p>\n"));
  }
  a.endSection();

  a.section(QStringLiteral("humaneval"), QStringLiteral("HumanEval(+) pass@1"));
  if (d.code.empty()) a.both(QStringLiteral("<p>Not run: the benchmark directory has no HumanEval(+) file.</p>\n"));
  else a.both(QStringLiteral("<p>Greedy completion, each program run in the sandbox; pass@1 = passed / problems.</p>\n") + tableHtml(tables[4]));
  a.endSection();

  a.section(QStringLiteral("provenance"), QStringLiteral("Provenance"));
  a.both(tableHtml(tables[5]));
  a.endSection();

  // The data files, named in the report as text (no links: the HTML references no file).
  QStringList dataFiles;
  for (const auto& t : tables) dataFiles << QStringLiteral("data/%1.csv").arg(QString::fromStdString(t.name));
  for (const auto& v : a.views)
    dataFiles << QStringLiteral("data/%1.csv").arg(v->kind() == QStringLiteral("ablation") ? QStringLiteral("ablation_figure") : v->kind());
  dataFiles << QStringLiteral("data/report.json") << QStringLiteral("report.pdf");
  a.section(QStringLiteral("data"), QStringLiteral("Data behind every number"));
  a.both(QStringLiteral("<p>Beside this file, in the report folder:</p>\n<ul>\n"));
  for (const auto& f : dataFiles) a.both(QStringLiteral("<li><code>") + f.toHtmlEscaped() + QStringLiteral("</code></li>\n"));
  a.both(QStringLiteral("</ul>\n<p>The analysis, ablation and HumanEval folders of the run hold every per-item result.</p>\n"));
  a.endSection();
  a.html += QStringLiteral("</body>\n</html>\n");
  a.pdfHtml = QStringLiteral("<html><body>") + a.pdfHtml + QStringLiteral("</body></html>");

  ReportOutput out;
  out.dir = outDir;
  out.html = outDir / "report.html";
  out.pdf = outDir / "report.pdf";
  out.dataFiles = dataFiles;
  core::writeDirectoryAtomically(outDir, true, [&](const fs::path& staging) {
    fs::create_directories(staging / "data");
    core::writeFileAtomically(staging / "report.html", a.html.toStdString());
    for (const auto& t : tables) core::writeFileAtomically(staging / "data" / (t.name + ".csv"), t.csv());
    for (const auto& v : a.views) {
      const std::string stem = v->kind() == QStringLiteral("ablation") ? "ablation_figure" : v->kind().toStdString();
      core::writeFileAtomically(staging / "data" / (stem + ".csv"), v->csv().toStdString());
    }
    core::writeFileAtomically(staging / "data" / "report.json", d.toJson().dump(2) + "\n");
    out.pdfPages = writePdf(a, staging / "report.pdf");
  });
  return out;
}

}  // namespace layerscope::views
