// Table model over the items of one evaluation (items.jsonl, results/items.h), optionally compared item by item
// with a second evaluation of the same items (results/item_comparison.h): one row per item of the first.
// Columns: id, prompt (elided; the full text is the tooltip), gold, prediction, correct, [correct (norm)],
// margin, one log-likelihood column per choice, every extra numeric per-item field, and with a comparison the
// second evaluation's prediction, correctness and the change. DisplayRole is for people, kRawRole for sorting;
// ItemsFilterProxy filters by outcome and text.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <map>
#include <optional>

#include "results/item_comparison.h"

namespace layerscope::views {

class ItemsTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  static constexpr int kRawRole = Qt::UserRole + 1;
  /// Per row: "fixed" | "broken" | "same" | "" (no comparison or no partner), for the filter.
  static constexpr int kChangeRole = Qt::UserRole + 2;
  /// Per row: true when the item is correct (in the first evaluation).
  static constexpr int kCorrectRole = Qt::UserRole + 3;
  /// Prompts longer than this are elided in the table.
  static constexpr int kPromptChars = 48;

  using QAbstractTableModel::QAbstractTableModel;

  /// Shows `items` (no comparison).
  void setItems(const results::ItemSet& items);
  /// Shows `a` compared with `b` (paired by id), labelled as in `comparison`.
  void setComparison(const results::ItemSet& a, const results::ItemSet& b, const results::ItemComparison& comparison);
  void clear();

  const results::ItemSet& items() const { return items_; }
  const std::optional<results::ItemComparison>& comparison() const { return comparison_; }
  /// The partner of row `row` in the second evaluation (nullptr without a comparison or partner).
  const results::ItemRecord* partner(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  enum class Col { Id, Prompt, Gold, Prediction, Correct, CorrectNorm, Margin, LogLik, Score, PredictionB, CorrectB, Change };
  struct Column {
    Col kind;
    int index = 0;  // choice index (LogLik) or score key index (Score)
  };
  void buildColumns();
  QString change(int row) const;

  results::ItemSet items_;
  results::ItemSet itemsB_;
  std::optional<results::ItemComparison> comparison_;
  std::map<std::string, size_t> bById_;
  std::vector<Column> columns_;
};

/// Outcome + text filter over an ItemsTableModel (sorting by kRawRole).
class ItemsFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  enum class Outcome { All, Correct, Incorrect, Flipped, Fixed, Broken };
  explicit ItemsFilterProxy(QObject* parent = nullptr);
  void setOutcome(Outcome o);
  /// Case-insensitive substring of id, prompt, gold or prediction ("" = every item).
  void setText(const QString& text);

 protected:
  bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

 private:
  Outcome outcome_ = Outcome::All;
  QString text_;
};

}  // namespace layerscope::views
