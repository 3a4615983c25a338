#include "views/items_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSplitter>
#include <QTableView>
#include <QTextDocument>
#include <QVBoxLayout>
#include <cmath>

#include "views/figure_style.h"
#include "views/items_table_model.h"
#include "views/qcp.h"

namespace layerscope::views {
namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
QString pts(double v) { return QString::asprintf("%+.1f", 100 * v); }
// A string of the task in quotes with its spaces kept (choices start with a space).
QString code(const std::string& s) {
  return QStringLiteral("<span style=\"white-space:pre; font-family:monospace\">\"%1\"</span>").arg(q(s).toHtmlEscaped());
}
}  // namespace

ItemsView::ItemsView(QWidget* parent)
    : QWidget(parent), model_(new ItemsTableModel(this)), proxy_(new ItemsFilterProxy(this)) {
  proxy_->setSourceModel(model_);
  summary_ = new QLabel;
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outcome_ = new QComboBox;
  outcome_->setToolTip(tr("Show all items, only correct or incorrect ones, or (comparing two evaluations) only the "
                          "items that changed"));
  search_ = new QLineEdit;
  search_->setPlaceholderText(tr("Filter by id, prompt, gold or prediction"));
  search_->setClearButtonEnabled(true);
  count_ = new QLabel;
  auto* filters = new QHBoxLayout;
  filters->addWidget(new QLabel(tr("Show")));
  filters->addWidget(outcome_);
  filters->addWidget(search_, 1);
  filters->addWidget(count_);

  table_ = new QTableView;
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->setWordWrap(false);

  detail_ = new QLabel;
  detail_->setWordWrap(true);
  detail_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  detail_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  plot_ = new QCustomPlot;
  plot_->setMinimumHeight(160);
  plot_->xAxis->setLabel(tr("choice"));
  plot_->yAxis->setLabel(tr("log-likelihood (nats)"));
  auto* side = new QWidget;
  auto* sideLayout = new QVBoxLayout(side);
  sideLayout->setContentsMargins(0, 0, 0, 0);
  sideLayout->addWidget(detail_);
  sideLayout->addWidget(plot_, 1);
  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(table_);
  split->addWidget(side);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_);
  layout->addLayout(filters);
  layout->addWidget(split, 1);

  fillOutcomes();
  connect(outcome_, &QComboBox::currentIndexChanged, this, [this] {
    proxy_->setOutcome(ItemsFilterProxy::Outcome(outcome_->currentData().toInt()));
    updateCount();
  });
  connect(search_, &QLineEdit::textChanged, this, [this](const QString& t) {
    proxy_->setText(t);
    updateCount();
  });
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ItemsView::showSelected);
  clear();
}

void ItemsView::fillOutcomes() {
  const QSignalBlocker block(outcome_);
  outcome_->clear();
  using O = ItemsFilterProxy::Outcome;
  outcome_->addItem(tr("all items"), int(O::All));
  outcome_->addItem(tr("correct"), int(O::Correct));
  outcome_->addItem(tr("incorrect"), int(O::Incorrect));
  if (model_->comparison()) {
    const auto& c = *model_->comparison();
    outcome_->addItem(tr("changed (fixed or broken)"), int(O::Flipped));
    outcome_->addItem(tr("fixed (wrong in %1, correct in %2)").arg(q(c.labelA), q(c.labelB)), int(O::Fixed));
    outcome_->addItem(tr("broken (correct in %1, wrong in %2)").arg(q(c.labelA), q(c.labelB)), int(O::Broken));
  }
  outcome_->setCurrentIndex(0);
  proxy_->setOutcome(O::All);
}

void ItemsView::setItems(const results::ItemSet& items) {
  model_->setItems(items);
  fillOutcomes();
  QString s = tr("<b>%1 items</b>, accuracy %2% (%3)").arg(items.items.size()).arg(100 * items.accuracy(), 0, 'f', 1)
                  .arg(q(items.file.string()).toHtmlEscaped());
  if (!items.promptNote.empty()) s += tr("<br>Prompts: %1.").arg(q(items.promptNote).toHtmlEscaped());
  summary_->setText(s);
  updateCount();
  showSelected();
}

void ItemsView::setComparison(const results::ItemSet& a, const results::ItemSet& b, const results::ItemComparison& c) {
  model_->setComparison(a, b, c);
  fillOutcomes();
  const QString A = q(c.labelA).toHtmlEscaped(), B = q(c.labelB).toHtmlEscaped();
  QString s = tr("<b>%1 vs %2</b> on %3 paired items: accuracy %4% vs %5%, difference <b>%6 points</b> "
                 "[95% CI %7, %8] (Newcombe); %9 fixed, %10 broken; exact McNemar p = <b>%11</b>.")
                  .arg(B, A).arg(c.paired).arg(100 * c.accuracyB, 0, 'f', 1).arg(100 * c.accuracyA, 0, 'f', 1)
                  .arg(pts(c.difference), pts(c.ci.low), pts(c.ci.high)).arg(c.onlyB).arg(c.onlyA)
                  .arg(QString::number(c.mcnemarP, 'g', 3));
  s += tr("<br>Both correct %1, both wrong %2.").arg(c.bothCorrect).arg(c.bothWrong);
  if (c.onlyInA || c.onlyInB)
    s += tr(" Left out: %1 item(s) only in %2, %3 only in %4.").arg(c.onlyInA).arg(A).arg(c.onlyInB).arg(B);
  if (!a.promptNote.empty()) s += tr("<br>Prompts: %1.").arg(q(a.promptNote).toHtmlEscaped());
  summary_->setText(s);
  updateCount();
  showSelected();
}

void ItemsView::clear() {
  model_->clear();
  fillOutcomes();
  summary_->setText(tr("No items: open a results folder that holds items.jsonl (analyze, manipulate and drop write "
                       "one), or run Evaluate vs base."));
  updateCount();
  showSelected();
}

bool ItemsView::hasData() const { return model_->rowCount() > 0; }

QString ItemsView::summaryText() const {
  QTextDocument d;
  d.setHtml(summary_->text());
  return d.toPlainText();
}

QString ItemsView::detailText() const {
  QTextDocument d;
  d.setHtml(detail_->text());
  return d.toPlainText();
}

void ItemsView::selectItem(int row) {
  if (row < 0 || row >= model_->rowCount()) return;
  QModelIndex i = proxy_->mapFromSource(model_->index(row, 0));
  if (!i.isValid()) {
    search_->clear();
    outcome_->setCurrentIndex(0);
    i = proxy_->mapFromSource(model_->index(row, 0));
  }
  table_->selectionModel()->select(i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  table_->scrollTo(i);
}

void ItemsView::updateCount() {
  count_->setText(tr("%1 of %2 items").arg(proxy_->rowCount()).arg(model_->rowCount()));
}

void ItemsView::showSelected() {
  plot_->clearPlottables();
  plot_->clearItems();
  const QModelIndexList rows = table_->selectionModel() ? table_->selectionModel()->selectedRows() : QModelIndexList{};
  if (rows.isEmpty()) {
    detail_->setText(hasData() ? tr("Select an item to see its prompt and the log-likelihood of each choice.") : QString());
    plot_->replot();
    return;
  }
  const int row = proxy_->mapToSource(rows.front()).row();
  const results::ItemRecord& r = model_->items().items[size_t(row)];
  const results::ItemRecord* b = model_->partner(row);
  QString t = tr("<b>%1</b> — %2<br>").arg(q(r.id).toHtmlEscaped(), r.correct ? tr("correct") : tr("incorrect"));
  t += r.prompt.empty() ? tr("<i>prompt unavailable (%1)</i>").arg(q(model_->items().promptNote).toHtmlEscaped())
                        : code(r.prompt);
  t += tr("<br>gold: %1, prediction: %2").arg(code(r.gold), code(r.prediction));
  if (b) t += tr(", %1: %2 (%3)").arg(q(model_->comparison()->labelB).toHtmlEscaped(), code(b->prediction),
                                     b->correct ? tr("correct") : tr("incorrect"));
  for (size_t c = 0; c < r.choices.size(); ++c)
    t += QStringLiteral("<br>%1. %2 LL %3%4").arg(c + 1).arg(code(r.choices[c]))
             .arg(c < r.loglik.size() ? fmt(r.loglik[c], 4) : QStringLiteral("—"))
             .arg(int(c) == r.goldIndex ? tr(" (gold)") : QString());
  // Honest about what the results hold: items.jsonl has no per-layer values per item.
  t += tr("<br><i>The results hold no per-layer values per item (items.jsonl records the outcome and the "
          "log-likelihoods only), so no per-item layer profile is drawn; the per-layer profiles over all items are in "
          "the Profiles tab.</i>");
  detail_->setText(t);
  if (r.loglik.empty()) {
    plot_->replot();
    return;
  }
  // Per-choice log-likelihoods: bars of the first evaluation (gold choice highlighted), the second's beside them.
  auto bars = [&](const results::ItemRecord& item, double offset, const QColor& colour, const QString& name) {
    auto* g = new QCPBars(plot_->xAxis, plot_->yAxis);
    g->setName(name);
    g->setWidth(b ? 0.38 : 0.7);
    g->setPen(QPen(colour.darker(130)));
    g->setBrush(colour);
    for (size_t c = 0; c < item.loglik.size(); ++c)
      if (std::isfinite(item.loglik[c])) g->addData(double(c + 1) + offset, item.loglik[c]);
  };
  const QString nameA = model_->comparison() ? q(model_->comparison()->labelA) : tr("log-likelihood");
  bars(r, b ? -0.2 : 0.0, QColor(68, 1, 84, 200), nameA);
  if (b && b->loglik.size() == r.loglik.size()) bars(*b, 0.2, QColor(53, 183, 121, 200), q(model_->comparison()->labelB));
  if (r.goldIndex >= 0) {
    auto* mark = new QCPItemText(plot_);
    mark->position->setType(QCPItemPosition::ptPlotCoords);
    mark->position->setCoords(r.goldIndex + 1, 0);
    mark->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
    mark->setText(tr("gold"));
  }
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1);
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setRange(0.4, double(r.loglik.size()) + 0.6);
  plot_->yAxis->rescale();
  double lo = plot_->yAxis->range().lower;
  plot_->yAxis->setRange(std::min(lo * 1.1, -0.1), 0);
  plot_->legend->setVisible(b != nullptr);
  plot_->replot();
}

}  // namespace layerscope::views
