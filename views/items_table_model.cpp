#include "views/items_table_model.h"

#include <QColor>
#include <algorithm>
#include <cmath>

#include "views/figure_style.h"

namespace layerscope::views {
namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
QString yesNo(bool b) { return b ? QObject::tr("yes") : QObject::tr("no"); }
}  // namespace

void ItemsTableModel::setItems(const results::ItemSet& items) {
  beginResetModel();
  items_ = items;
  itemsB_ = {};
  comparison_.reset();
  bById_.clear();
  buildColumns();
  endResetModel();
}

void ItemsTableModel::setComparison(const results::ItemSet& a, const results::ItemSet& b,
                                    const results::ItemComparison& comparison) {
  beginResetModel();
  items_ = a;
  itemsB_ = b;
  comparison_ = comparison;
  bById_.clear();
  for (size_t i = 0; i < itemsB_.items.size(); ++i) bById_[itemsB_.items[i].id] = i;
  buildColumns();
  endResetModel();
}

void ItemsTableModel::clear() {
  beginResetModel();
  items_ = {};
  itemsB_ = {};
  comparison_.reset();
  bById_.clear();
  columns_.clear();
  endResetModel();
}

void ItemsTableModel::buildColumns() {
  columns_ = {{Col::Id}, {Col::Prompt}, {Col::Gold}, {Col::Prediction}, {Col::Correct}};
  const bool norm = std::any_of(items_.items.begin(), items_.items.end(), [](const auto& r) { return r.correctNorm.has_value(); });
  if (norm) columns_.push_back({Col::CorrectNorm});
  if (items_.maxChoices() >= 2) columns_.push_back({Col::Margin});
  for (int c = 0; c < items_.maxChoices(); ++c) columns_.push_back({Col::LogLik, c});
  for (size_t k = 0; k < items_.scoreKeys.size(); ++k) columns_.push_back({Col::Score, int(k)});
  if (comparison_) {
    columns_.push_back({Col::PredictionB});
    columns_.push_back({Col::CorrectB});
    columns_.push_back({Col::Change});
  }
}

const results::ItemRecord* ItemsTableModel::partner(int row) const {
  if (!comparison_ || row < 0 || row >= int(items_.items.size())) return nullptr;
  auto it = bById_.find(items_.items[size_t(row)].id);
  return it == bById_.end() ? nullptr : &itemsB_.items[it->second];
}

QString ItemsTableModel::change(int row) const {
  const results::ItemRecord* b = partner(row);
  if (!b) return {};
  const bool a = items_.items[size_t(row)].correct;
  return a == b->correct ? QStringLiteral("same") : b->correct ? QStringLiteral("fixed") : QStringLiteral("broken");
}

int ItemsTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(items_.items.size()); }

int ItemsTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(columns_.size()); }

QVariant ItemsTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const int row = index.row();
  const results::ItemRecord& r = items_.items[size_t(row)];
  if (role == kChangeRole) return change(row);
  if (role == kCorrectRole) return r.correct;
  const Column col = columns_[size_t(index.column())];
  const results::ItemRecord* b = partner(row);
  auto number = [&](double v) -> QVariant {
    switch (role) {
      case Qt::DisplayRole: return fmt(v, 4);
      case Qt::ToolTipRole: return exact(v);
      case kRawRole: return std::isnan(v) ? -INFINITY : v;
      case Qt::TextAlignmentRole: return int(Qt::AlignRight | Qt::AlignVCenter);
      default: return {};
    }
  };
  auto text = [&](const QString& shown, const QString& full) -> QVariant {
    switch (role) {
      case Qt::DisplayRole: return shown;
      case Qt::ToolTipRole: return full.isEmpty() ? QVariant() : QVariant(full);
      case kRawRole: return full;
      default: return {};
    }
  };
  switch (col.kind) {
    case Col::Id: return text(q(r.id), q(r.id));
    case Col::Prompt: {
      const QString p = q(r.prompt);
      if (p.isEmpty()) return text(QStringLiteral("—"), tr("Prompt unavailable: %1").arg(q(items_.promptNote)));
      return text(p.size() > kPromptChars ? p.left(kPromptChars - 1) + QChar(0x2026) : p, p);
    }
    case Col::Gold: return text(q(r.gold), q(r.gold));
    case Col::Prediction: {
      const QString full = r.generated.empty() ? q(r.prediction) : tr("%1 (generated: %2)").arg(q(r.prediction), q(r.generated));
      return text(q(r.prediction), full);
    }
    case Col::Correct: return text(yesNo(r.correct), r.correct ? QStringLiteral("1") : QStringLiteral("0"));
    case Col::CorrectNorm:
      if (!r.correctNorm) return text(QString(), QString());
      return text(yesNo(*r.correctNorm), *r.correctNorm ? QStringLiteral("1") : QStringLiteral("0"));
    case Col::Margin: return number(r.margin());
    case Col::LogLik: return number(col.index < int(r.loglik.size()) ? r.loglik[size_t(col.index)] : results::kNaN);
    case Col::Score: {
      auto it = r.scores.find(items_.scoreKeys[size_t(col.index)]);
      return number(it == r.scores.end() ? results::kNaN : it->second);
    }
    case Col::PredictionB: return b ? text(q(b->prediction), q(b->prediction)) : text(QString(), QString());
    case Col::CorrectB: return b ? text(yesNo(b->correct), b->correct ? QStringLiteral("1") : QStringLiteral("0")) : text(QString(), QString());
    case Col::Change: {
      const QString c = change(row);
      if (role == Qt::ForegroundRole && c == QLatin1String("fixed")) return QColor(0, 110, 40);
      if (role == Qt::ForegroundRole && c == QLatin1String("broken")) return QColor(170, 20, 20);
      return text(c, c);
    }
  }
  return {};
}

QVariant ItemsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || section < 0 || section >= int(columns_.size()))
    return QAbstractTableModel::headerData(section, orientation, role);
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
  const Column col = columns_[size_t(section)];
  const bool tip = role == Qt::ToolTipRole;
  const QString a = comparison_ ? q(comparison_->labelA) : QString(), bl = comparison_ ? q(comparison_->labelB) : QString();
  auto named = [&](const QString& s) { return a.isEmpty() ? s : QStringLiteral("%1 (%2)").arg(s, a); };
  switch (col.kind) {
    case Col::Id: return tr("id");
    case Col::Prompt: return tip ? tr("The item's prompt from the task file (hover a cell for the full text)") : tr("prompt");
    case Col::Gold: return tr("gold");
    case Col::Prediction: return named(tr("prediction"));
    case Col::Correct: return named(tr("correct"));
    case Col::CorrectNorm: return tip ? tr("Correct by acc_norm (log-likelihood per byte of the choice)") : tr("correct (norm)");
    case Col::Margin:
      return tip ? tr("Log-likelihood of the gold answer minus the best other choice (nats; > 0: the gold answer wins)") : tr("margin");
    case Col::LogLik:
      return tip ? tr("Log-likelihood of choice %1 (nats; pairs: 1 = correct, 2 = incorrect completion)").arg(col.index + 1)
                 : tr("LL %1").arg(col.index + 1);
    case Col::Score: return q(items_.scoreKeys[size_t(col.index)]);
    case Col::PredictionB: return tr("prediction (%1)").arg(bl);
    case Col::CorrectB: return tr("correct (%1)").arg(bl);
    case Col::Change:
      return tip ? tr("fixed: wrong in %1, correct in %2; broken: the reverse").arg(a, bl) : tr("change");
  }
  return {};
}

ItemsFilterProxy::ItemsFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(ItemsTableModel::kRawRole);
}

void ItemsFilterProxy::setOutcome(Outcome o) {
  outcome_ = o;
  invalidateFilter();
}

void ItemsFilterProxy::setText(const QString& text) {
  text_ = text.trimmed();
  invalidateFilter();
}

bool ItemsFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
  const auto* m = qobject_cast<const ItemsTableModel*>(sourceModel());
  if (!m || sourceParent.isValid()) return true;
  const QModelIndex i = m->index(sourceRow, 0);
  const bool correct = m->data(i, ItemsTableModel::kCorrectRole).toBool();
  const QString change = m->data(i, ItemsTableModel::kChangeRole).toString();
  switch (outcome_) {
    case Outcome::All: break;
    case Outcome::Correct: if (!correct) return false; break;
    case Outcome::Incorrect: if (correct) return false; break;
    case Outcome::Flipped: if (change != QLatin1String("fixed") && change != QLatin1String("broken")) return false; break;
    case Outcome::Fixed: if (change != QLatin1String("fixed")) return false; break;
    case Outcome::Broken: if (change != QLatin1String("broken")) return false; break;
  }
  if (text_.isEmpty()) return true;
  const auto& r = m->items().items[size_t(sourceRow)];
  for (const std::string* s : {&r.id, &r.prompt, &r.gold, &r.prediction})
    if (QString::fromStdString(*s).contains(text_, Qt::CaseInsensitive)) return true;
  return false;
}

}  // namespace layerscope::views
