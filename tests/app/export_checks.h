// Shared by the app tests that export a figure as File > Export does: write PDF, SVG and PNG and check each file
// (PDF header and page size in points, SVG that parses with an <svg> root, PNG size = inches x dpi).
#pragma once

#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QImage>
#include <QXmlStreamReader>
#include <cmath>

#include "views/figure_export.h"
#include "views/plot_view.h"

namespace layerscope::test {

struct ExportedFigure {
  QString pdf, svg, png;
  int svgPaths = 0;  ///< <path> and <polyline> elements in the SVG
};

/// Exports `fig` as <dir>/<base>.{pdf,svg,png} with `style` and checks every file.
inline ExportedFigure exportAndCheck(views::PlotView& fig, const QString& dir, const QString& base,
                                     const views::FigureStyle& style) {
  ExportedFigure out{QDir(dir).filePath(base + QStringLiteral(".pdf")), QDir(dir).filePath(base + QStringLiteral(".svg")),
                     QDir(dir).filePath(base + QStringLiteral(".png"))};
  views::exportFigure(fig, out.pdf, style);
  views::exportFigure(fig, out.svg, style);
  views::exportFigure(fig, out.png, style);

  QFile p(out.pdf);
  EXPECT_TRUE(p.open(QIODevice::ReadOnly));
  const QByteArray bytes = p.readAll();
  EXPECT_TRUE(bytes.startsWith("%PDF-"));
  const QByteArray box = QStringLiteral("/MediaBox [0 0 %1 %2]")
                             .arg(72 * style.widthIn, 0, 'f', 6)
                             .arg(72 * style.heightIn, 0, 'f', 6)
                             .toLatin1();
  EXPECT_TRUE(bytes.contains(box)) << box.toStdString() << " not in " << bytes.left(2000).toStdString();

  QFile s(out.svg);
  EXPECT_TRUE(s.open(QIODevice::ReadOnly));
  QXmlStreamReader xml(&s);
  bool root = false;
  while (!xml.atEnd()) {
    if (xml.readNext() == QXmlStreamReader::StartElement) {
      if (xml.name() == QLatin1String("svg")) root = true;
      if (xml.name() == QLatin1String("path") || xml.name() == QLatin1String("polyline")) ++out.svgPaths;
    }
  }
  EXPECT_FALSE(xml.hasError()) << xml.errorString().toStdString();
  EXPECT_TRUE(root);

  const QImage img(out.png);
  EXPECT_FALSE(img.isNull());
  EXPECT_EQ(img.width(), int(std::lround(style.widthIn * style.dpi)));
  EXPECT_EQ(img.height(), int(std::lround(style.heightIn * style.dpi)));
  return out;
}

}  // namespace layerscope::test
