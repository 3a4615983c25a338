#include "views/runs_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QSplitter>
#include <QVBoxLayout>
#include <cmath>

#include "views/score_names.h"

namespace layerscope::views {

// ---- ProfileOverlayView ----

void ProfileOverlayView::setData(const QStringList& labels, const std::vector<results::Scores>& runs, const QString& key) {
  labels_ = labels;
  runs_ = runs;
  key_ = key;
  rebuild();
}

int ProfileOverlayView::layerCount() const {
  int n = 0;
  for (const auto& s : runs_) n = std::max(n, s.numLayers);
  return n;
}

void ProfileOverlayView::build() {
  QCustomPlot* p = plot();
  const FigureStyle& st = figureStyle();
  if (!hasData()) {
    setTitle(tr("No runs to overlay: open two or more results folders (each stays in the run list)"));
    return;
  }
  const QCPScatterStyle::ScatterShape shapes[] = {QCPScatterStyle::ssDisc, QCPScatterStyle::ssSquare,
                                                  QCPScatterStyle::ssTriangle, QCPScatterStyle::ssDiamond,
                                                  QCPScatterStyle::ssCross, QCPScatterStyle::ssPlus};
  const std::string key = key_.toStdString();
  for (size_t r = 0; r < runs_.size(); ++r) {
    const auto* v = runs_[r].find(key);
    if (!v) continue;
    QVector<double> x, y;
    for (size_t l = 0; l < v->size(); ++l)
      if (std::isfinite((*v)[l])) x << double(l), y << (*v)[l];
    auto* g = p->addGraph();
    g->setData(x, y, true);
    const QColor c = seriesColor(int(r));
    g->setPen(QPen(c, st.pen(st.lineWidthPt), r % 2 ? Qt::DashLine : Qt::SolidLine));
    g->setScatterStyle(QCPScatterStyle(shapes[r % 6], c, c, st.pen(4)));
    g->setName(labels_.value(int(r)));
  }
  const int L = layerCount();
  p->xAxis->setLabel(tr("layer"));
  p->xAxis->setRange(-0.5, L - 0.5);
  tickEveryLayer(p->xAxis, L);
  p->yAxis->setLabel(readableKey(key_));
  p->rescaleAxes(true);
  p->xAxis->setRange(-0.5, L - 0.5);
  const QCPRange y = p->yAxis->range();
  p->yAxis->setRange(y.lower - 0.05 * y.size(), y.upper + 0.05 * y.size());
  placeLegendClearOfData();
  setTitle(tr("%1 across runs").arg(readableKey(key_)));
}

QString ProfileOverlayView::tooltipAt(double key, double) const {
  const int l = int(std::lround(key));
  QStringList lines{tr("layer %1").arg(l)};
  for (size_t r = 0; r < runs_.size(); ++r) {
    const auto* v = runs_[r].find(key_.toStdString());
    if (v && l >= 0 && l < int(v->size())) lines << QStringLiteral("%1: %2").arg(labels_.value(int(r)), exact((*v)[size_t(l)]));
  }
  return lines.size() > 1 ? lines.join(QLatin1Char('\n')) : QString();
}

QString ProfileOverlayView::csv() const {
  if (!hasData()) return {};
  QString out = QStringLiteral("layer");
  for (const QString& l : labels_) out += QLatin1Char(',') + QString(l).replace(QLatin1Char(','), QLatin1Char(';'));
  out += QLatin1Char('\n');
  for (int l = 0; l < layerCount(); ++l) {
    out += QString::number(l);
    for (const auto& s : runs_) {
      const auto* v = s.find(key_.toStdString());
      out += QLatin1Char(',') + (v && l < int(v->size()) ? exact((*v)[size_t(l)]) : QString());
    }
    out += QLatin1Char('\n');
  }
  return out;
}

// ---- difference heatmap ----

HeatmapData differenceHeatmap(const results::ProfileDifference& d, const QString& labelA, const QString& labelB) {
  HeatmapData h;
  h.values = d.relative;
  h.raw = d.difference;
  // The keys as scores.json names them: readableKey() of a redundancy key is a sentence, which left the cells a
  // sliver of the view beside their tick labels.
  for (const auto& k : d.keys) h.rowNames << QString::fromStdString(k);
  h.title = QObject::tr("%1 \u2212 %2 per layer").arg(labelB, labelA);
  h.colourLabel = QObject::tr("(%1 \u2212 %2) / max |%2|").arg(labelB, labelA);
  return h;
}

// ---- RunsView ----

RunsView::RunsView(QWidget* parent) : QWidget(parent) {
  list_ = new QListWidget;
  list_->setToolTip(tr("Every results folder opened in this window; checked runs are overlaid"));
  list_->setMaximumWidth(260);
  key_ = new QComboBox;
  key_->setToolTip(tr("Layer score overlaid across the checked runs (keys every checked run has)"));
  runA_ = new QComboBox;
  runB_ = new QComboBox;
  runA_->setToolTip(tr("Run A of the difference heatmap (B \u2212 A)"));
  runB_->setToolTip(tr("Run B of the difference heatmap (B \u2212 A)"));
  note_ = new QLabel;
  note_->setWordWrap(true);
  overlay_ = new ProfileOverlayView;
  difference_ = new HeatmapView;

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Overlay")));
  controls->addWidget(key_, 1);
  controls->addWidget(new QLabel(tr("  Difference: B")));
  controls->addWidget(runB_, 1);
  controls->addWidget(new QLabel(tr("\u2212 A")));
  controls->addWidget(runA_, 1);
  auto* plots = new QSplitter(Qt::Vertical);
  plots->addWidget(overlay_);
  plots->addWidget(difference_);
  auto* right = new QWidget;
  auto* rl = new QVBoxLayout(right);
  rl->setContentsMargins(0, 0, 0, 0);
  rl->addLayout(controls);
  rl->addWidget(note_);
  rl->addWidget(plots, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(list_);
  layout->addWidget(right, 1);

  connect(list_, &QListWidget::itemChanged, this, [this] { refresh(); });
  for (QComboBox* c : {key_, runA_, runB_}) connect(c, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
  refresh();
}

int RunsView::indexOf(const QString& label) const { return int(labels_.indexOf(label)); }

void RunsView::addRun(const QString& label, const results::Scores& scores) {
  const int i = indexOf(label);
  if (i >= 0) {
    runs_[size_t(i)] = scores;
  } else {
    labels_ << label;
    runs_.push_back(scores);
    const QSignalBlocker block(list_);
    auto* item = new QListWidgetItem(label, list_);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(Qt::Checked);
  }
  // The newest run is B, the one before it A.
  const QSignalBlocker ba(runA_), bb(runB_);
  runA_->clear();
  runB_->clear();
  runA_->addItems(labels_);
  runB_->addItems(labels_);
  runB_->setCurrentIndex(int(labels_.size()) - 1);
  runA_->setCurrentIndex(std::max(0, int(labels_.size()) - 2));
  refresh();
}

void RunsView::removeRun(const QString& label) {
  const int i = indexOf(label);
  if (i < 0) return;
  labels_.removeAt(i);
  runs_.erase(runs_.begin() + i);
  {
    const QSignalBlocker block(list_);
    delete list_->takeItem(i);
  }
  const QString a = runA_->currentText(), b = runB_->currentText();
  const QSignalBlocker ba(runA_), bb(runB_);
  runA_->clear();
  runB_->clear();
  runA_->addItems(labels_);
  runB_->addItems(labels_);
  runA_->setCurrentIndex(std::max(0, int(labels_.indexOf(a))));
  runB_->setCurrentIndex(std::max(0, int(labels_.indexOf(b))));
  refresh();
}

QStringList RunsView::runLabels() const { return labels_; }

QStringList RunsView::checkedRuns() const {
  QStringList out;
  for (int i = 0; i < list_->count(); ++i)
    if (list_->item(i)->checkState() == Qt::Checked) out << list_->item(i)->text();
  return out;
}

void RunsView::setChecked(const QString& label, bool checked) {
  const int i = indexOf(label);
  if (i >= 0) list_->item(i)->setCheckState(checked ? Qt::Checked : Qt::Unchecked);  // itemChanged -> refresh
}

void RunsView::setKey(const QString& key) {
  const int i = key_->findText(key);
  if (i >= 0) key_->setCurrentIndex(i);
}

QString RunsView::differenceRunA() const { return runA_->currentText(); }
QString RunsView::differenceRunB() const { return runB_->currentText(); }

void RunsView::setDifferenceRuns(const QString& a, const QString& b) {
  if (indexOf(a) < 0 || indexOf(b) < 0) return;
  {
    const QSignalBlocker ba(runA_), bb(runB_);
    runA_->setCurrentIndex(indexOf(a));
    runB_->setCurrentIndex(indexOf(b));
  }
  refresh();
}

QString RunsView::differenceNote() const { return note_->text(); }

void RunsView::overlayData(QStringList& labels, std::vector<results::Scores>& runs) const {
  labels.clear();
  runs.clear();
  for (const QString& l : checkedRuns()) {
    labels << l;
    runs.push_back(runs_[size_t(indexOf(l))]);
  }
}

void RunsView::refresh() {
  if (refreshing_) return;
  refreshing_ = true;
  // Overlay: the checked runs, keys all of them share (the current key kept when still shared).
  QStringList labels;
  std::vector<results::Scores> runs;
  std::vector<const results::Scores*> ptrs;
  overlayData(labels, runs);
  for (const auto& s : runs) ptrs.push_back(&s);
  {
    const QString current = key_->currentText();
    const QSignalBlocker block(key_);
    key_->clear();
    for (const auto& k : results::sharedProfileKeys(ptrs)) key_->addItem(QString::fromStdString(k));
    // First time: the sensitivity profile (what an adapter comparison is usually about), else the first key.
    int at = key_->findText(current);
    for (int i = 0; at < 0 && current.isEmpty() && i < key_->count(); ++i)
      if (key_->itemText(i).startsWith(QLatin1String("sensitivity."))) at = i;
    key_->setCurrentIndex(std::max(0, at));
  }
  overlay_->setData(labels, runs, key_->currentText());
  // Difference heatmap of B - A.
  const int a = runA_->currentIndex(), b = runB_->currentIndex();
  QString why;
  if (labels_.size() < 2) why = tr("Open a second results folder to see a difference heatmap.");
  else if (a == b) why = tr("Choose two different runs for A and B.");
  if (why.isEmpty()) {
    try {
      const auto d = results::profileDifference(runs_[size_t(a)], runs_[size_t(b)], labels_[a].toStdString(),
                                                labels_[b].toStdString());
      difference_->setData(differenceHeatmap(d, labels_[a], labels_[b]));
    } catch (const results::ResultsError& e) {
      why = QString::fromUtf8(e.what());
    }
  }
  if (!why.isEmpty()) difference_->setData({});
  note_->setText(why);
  note_->setVisible(!why.isEmpty());
  refreshing_ = false;
}

}  // namespace layerscope::views
