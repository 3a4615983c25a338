// Colour stops: viridis and cividis sampled at 9 points from matplotlib's _cm_listed tables (viridis:
// van der Walt & Smith 2015; cividis: Nuñez, Anderton & Renslow 2018); diverging: ColorBrewer RdBu 9-class.
#include "views/figure_style.h"

#include <cmath>

namespace layerscope::views {

QFont FigureStyle::font(double delta, bool bold) const {
  QFont f(fontFamily);
  // Pixel sizes in plot units: 1 unit = 1 pt when exporting, so the PDF/SVG/PNG shows exactly fontPt points.
  f.setPixelSize(std::max(1, int(std::lround((fontPt + delta) * pxPerPt))));
  f.setBold(bold);
  return f;
}

FigureStyle withPreset(FigureStyle s, SizePreset p) {
  switch (p) {
    case SizePreset::OneColumn: s.widthIn = 3.5; s.heightIn = 2.5; s.fontPt = 8; break;
    case SizePreset::TwoColumn: s.widthIn = 7.0; s.heightIn = 3.0; s.fontPt = 9; break;
    case SizePreset::Slide: s.widthIn = 10.0; s.heightIn = 5.625; s.fontPt = 14; break;
  }
  return s;
}

QStringList presetNames() {
  return {QStringLiteral("one column (3.5 x 2.5 in)"), QStringLiteral("two columns (7.0 x 3.0 in)"),
          QStringLiteral("slide (10 x 5.625 in)")};
}

namespace {
QCPColorGradient fromStops(std::initializer_list<const char*> hex) {
  QCPColorGradient g;
  g.clearColorStops();
  const int n = int(hex.size());
  int i = 0;
  for (const char* h : hex) g.setColorStopAt(double(i++) / (n - 1), QColor(QLatin1String(h)));
  g.setColorInterpolation(QCPColorGradient::ciRGB);
  g.setLevelCount(256);
  return g;
}
}  // namespace

QCPColorGradient gradientByName(const QString& name) {
  if (name == QLatin1String("cividis"))
    return fromStops({"#00224e", "#123570", "#3b496c", "#575d6d", "#707173", "#8a8779", "#a69d75", "#c4b56c",
                      "#fee838"});
  if (name == QLatin1String("diverging"))
    return fromStops({"#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
                      "#b2182b"});
  return fromStops({"#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
                    "#fde725"});
}

QStringList gradientNames() {
  return {QStringLiteral("viridis"), QStringLiteral("cividis"), QStringLiteral("diverging")};
}

QColor seriesColor(int i) {
  static const QColor kPalette[] = {QColor(0, 114, 178),  QColor(213, 94, 0),   QColor(0, 158, 115),
                                    QColor(204, 121, 167), QColor(230, 159, 0), QColor(86, 180, 233),
                                    QColor(0, 0, 0),       QColor(240, 228, 66)};
  return kPalette[((i % 8) + 8) % 8];
}

QColor selectionColor() { return QColor(255, 170, 0, 70); }

void applyStyle(QCustomPlot* plot, const FigureStyle& s) {
  plot->setBackground(Qt::white);
  for (QCPAxisRect* rect : plot->axisRects()) {
    for (QCPAxis* ax : rect->axes()) {
      ax->setTickLabelFont(s.font());
      ax->setLabelFont(s.font(1));
      QPen p(Qt::black, s.pen(0.6));
      ax->setBasePen(p);
      ax->setTickPen(p);
      ax->setSubTickPen(QPen(Qt::black, s.pen(0.4)));
      ax->setTickLengthIn(int(std::lround(s.pen(3))));
      ax->setSubTickLengthIn(int(std::lround(s.pen(1.5))));
      ax->setLabelPadding(int(std::lround(s.pen(2))));
      ax->setTickLabelPadding(int(std::lround(s.pen(2))));
      ax->grid()->setPen(QPen(QColor(0, 0, 0, 30), s.pen(0.4), Qt::DotLine));
      ax->grid()->setSubGridVisible(false);
    }
    rect->setAutoMargins(QCP::msAll);
    if (QCPLegend* legend = plot->legend) {
      legend->setFont(s.font(-0.5));
      if (legend->borderPen().style() != Qt::NoPen) legend->setBorderPen(QPen(QColor(0, 0, 0, 80), s.pen(0.5)));
      legend->setBrush(QColor(255, 255, 255, 215));
      legend->setIconSize(int(std::lround(s.pen(14))), int(std::lround(s.pen(7))));
      legend->setRowSpacing(0);
      const int m = int(std::lround(s.pen(3)));
      legend->setMargins(QMargins(m, m / 2, m, m / 2));
    }
  }
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
    if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
      t->setFont(t->objectName() == QLatin1String("note") ? s.font(-1) : s.font(1, true));  // notes vs titles
}

QString fmt(double v, int sig) {
  if (std::isnan(v)) return QStringLiteral("n/a");
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e5)) return QString::number(v, 'e', sig - 1);
  return QString::number(v, 'g', sig);
}

QString exact(double v) {
  if (std::isnan(v)) return QStringLiteral("nan");
  return QString::number(v, 'g', 17);
}

}  // namespace layerscope::views
