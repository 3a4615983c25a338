// The reproduce report (views/report_writer.h) from real outputs: tests/data/fixtures/reproduce_run is a
// `reproduce --quick` run on the demo model (summary, analysis, ablation report, HumanEval results; the adapters
// left out). The HTML must parse (it is written as XHTML, so a strict XML parser reads it), reference no file or
// URL (only data: URIs), hold every section; the PDF must be a PDF with the page count the writer reports.
#include <gtest/gtest.h>

#include <QXmlStreamReader>
#include <fstream>
#include <regex>
#include <sstream>

#include "results/reader.h"
#include "tests/common/test_util.h"
#include "views/report_data.h"
#include "views/report_writer.h"

namespace layerscope::views {
namespace {
namespace fs = std::filesystem;

const fs::path kFixture = fs::path(LAYERSCOPE_SOURCE_DIR) / "tests/data/fixtures/reproduce_run";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReproduceReport, LayerRangesJoinRuns) {
  EXPECT_EQ(layerRanges({31, 23, 24, 25, 26, 27, 28, 29, 30}), "23-31");
  EXPECT_EQ(layerRanges({11, 0, 10, 4}), "0, 4, 10, 11");
  EXPECT_EQ(layerRanges({7, 1, 2, 3}), "1-3, 7");
  EXPECT_EQ(layerRanges({}), "none");
}

TEST(ReproduceReport, FromAQuickRunIsOneSelfContainedHtmlAPdfAndTheData) {
  test::TempDir tmp;
  const auto out = writeReproduceReport(kFixture, tmp / "report");
  ASSERT_TRUE(fs::exists(out.html));
  const std::string html = slurp(out.html);

  // Parses strictly; collect section ids, every reference-bearing attribute and the inline figures.
  QXmlStreamReader xml(QByteArray::fromStdString(html));
  QStringList sections, refs;
  int svgs = 0;
  while (!xml.atEnd()) {
    if (xml.readNext() != QXmlStreamReader::StartElement) continue;
    if (xml.name() == QLatin1String("section")) sections << xml.attributes().value(QLatin1String("id")).toString();
    if (xml.name() == QLatin1String("svg")) ++svgs;
    for (const auto& attr : xml.attributes())
      if (attr.name() == QLatin1String("src") || attr.name() == QLatin1String("href")) refs << attr.value().toString();
  }
  ASSERT_FALSE(xml.hasError()) << xml.errorString().toStdString() << " at line " << xml.lineNumber();
  EXPECT_EQ(sections, reportSectionIds());
  EXPECT_EQ(svgs, 4);  // profiles, heatmap, scatter, ablation
  for (const auto& r : refs) EXPECT_TRUE(r.startsWith(QLatin1String("data:"))) << r.left(60).toStdString();
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);

  // The demo model is not the paper's, and the report says so rather than comparing.
  EXPECT_NE(html.find("Different model"), std::string::npos);
  EXPECT_NE(html.find("layers 12 vs 32"), std::string::npos);
  EXPECT_NE(html.find("not comparable: different model"), std::string::npos);
  for (const char* paper : {"-0.735", "1.66e-06", "23-31 (k = 9)", "0-9 (k = 10)", "67.1%", "+4 to +16 points"})
    EXPECT_NE(html.find(paper), std::string::npos) << paper;

  // The numbers are the run's: stats.json's r_s and top-k sets.
  const auto stats = results::readStats(kFixture / "analysis/stats.json");
  const std::string coloc = slurp(out.dir / "data/colocalization.csv");
  char rs[32];
  std::snprintf(rs, sizeof rs, "Spearman r_s,%.4g", stats.spearmanR);
  EXPECT_NE(coloc.find(rs), std::string::npos) << coloc;
  EXPECT_NE(slurp(out.dir / "data/top_k.csv").find(layerRanges(stats.topSens)), std::string::npos);

  // Every data file named in the report exists and is not empty; report.json holds the tables.
  EXPECT_GE(out.dataFiles.size(), 11);
  for (const auto& f : out.dataFiles) {
    EXPECT_GT(fs::file_size(out.dir / f.toStdString()), 40u) << f.toStdString();
    EXPECT_NE(html.find(f.toStdString()), std::string::npos) << f.toStdString();
  }
  const auto j = nlohmann::json::parse(slurp(out.dir / "data/report.json"));
  EXPECT_EQ(j["tables"]["paper_vs_run"]["rows"].size(), 8u);  // model, n, two sets, r_s, p, ablation, HumanEval+
  EXPECT_EQ(j["humaneval"].size(), 6u);  // base, C1-C5
  EXPECT_FALSE(j["same_shape_as_paper"].get<bool>());
  // arc/test.jsonl is "test" in the ablation's report and "arc" in this one.
  const std::string ablation = slurp(out.dir / "data/ablation.csv");
  EXPECT_NE(ablation.find("\narc,"), std::string::npos) << ablation;
  EXPECT_EQ(ablation.find("\ntest,"), std::string::npos) << ablation;

  // The PDF: header, and as many page objects as the writer laid out (and the page tree's count says).
  const std::string pdf = slurp(out.pdf);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  const std::regex page(R"(/Type\s*/Page[^s])");
  const auto pages = std::distance(std::sregex_iterator(pdf.begin(), pdf.end(), page), std::sregex_iterator());
  EXPECT_EQ(pages, out.pdfPages);
  EXPECT_GE(out.pdfPages, 3);
  EXPECT_NE(pdf.find("/Count " + std::to_string(out.pdfPages)), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "report.incomplete"));
}

TEST(ReproduceReport, AModelOfTheEightBShapeIsComparedNotFlaggedAsDifferent) {
  test::TempDir tmp;
  fs::copy(kFixture, tmp / "run", fs::copy_options::recursive);
  auto scores = nlohmann::json::parse(slurp(tmp / "run/analysis/scores.json"));
  scores["model"]["config"] = {{"layers", 32},   {"hidden", 4096},    {"intermediate", 14336}, {"heads", 32},
                               {"kv_heads", 8},  {"head_dim", 128},   {"vocab", 128256},       {"rope", {{"theta", 500000.0}}}};
  std::ofstream(tmp / "run/analysis/scores.json") << scores.dump();
  const auto d = readReproduceReport(tmp / "run");
  EXPECT_TRUE(d.sameShapeAsPaper);
  const auto t = d.paperVsRun();
  for (const auto& row : t.rows) EXPECT_EQ(row[3].find("different model"), std::string::npos) << row[0] << ": " << row[3];
  EXPECT_NE(t.rows[0][3].find("same shape"), std::string::npos);

  scores["model"]["config"]["kv_heads"] = 4;
  std::ofstream(tmp / "run/analysis/scores.json") << scores.dump();
  const auto other = readReproduceReport(tmp / "run");
  EXPECT_FALSE(other.sameShapeAsPaper);
  EXPECT_EQ(other.shapeDifferences, std::vector<std::string>{"kv_heads 4 vs 8"});
}

TEST(ReproduceReport, AnUnfinishedRunIsANamedErrorAndLeavesNoReport) {
  test::TempDir tmp;
  fs::copy(kFixture, tmp / "run", fs::copy_options::recursive);
  fs::remove(tmp / "run/summary.json");
  try {
    writeReproduceReport(tmp / "run");
    FAIL() << "no error";
  } catch (const results::ResultsError& e) {
    EXPECT_NE(std::string(e.what()).find("summary.json"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "run/report"));
  fs::copy(kFixture / "summary.json", tmp / "run/summary.json");
  fs::remove(tmp / "run/analysis/stats.json");
  EXPECT_THROW(writeReproduceReport(tmp / "run"), results::ResultsError);
  EXPECT_FALSE(fs::exists(tmp / "run/report"));
}

}  // namespace
}  // namespace layerscope::views
