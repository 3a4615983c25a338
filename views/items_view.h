// The item explorer (LIT's per-item table): the items of one evaluation, or two evaluations compared item by
// item, in a sortable table filtered by outcome and text, with the statistics of the comparison above it and the
// selected item's prompt, choices and per-choice log-likelihoods (both evaluations' when compared) beside it.
// Passive: it shows what it is given (results/items.h, results/item_comparison.h).
#pragma once

#include <QWidget>

#include "results/item_comparison.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QTableView;

namespace layerscope::views {

class ItemsFilterProxy;
class ItemsTableModel;

class ItemsView : public QWidget {
  Q_OBJECT
 public:
  explicit ItemsView(QWidget* parent = nullptr);

  void setItems(const results::ItemSet& items);
  /// Items of `a` compared with `b`: the statistics line, flip filters and both predictions per row.
  void setComparison(const results::ItemSet& a, const results::ItemSet& b, const results::ItemComparison& comparison);
  void clear();
  bool hasData() const;

  ItemsTableModel* model() const { return model_; }
  ItemsFilterProxy* proxy() const { return proxy_; }
  QTableView* table() const { return table_; }
  QComboBox* outcomeFilter() const { return outcome_; }
  QLineEdit* textFilter() const { return search_; }
  /// The statistics / summary line above the table (plain text of the rich label).
  QString summaryText() const;
  /// The selected item's details (prompt, choices, per-choice log-likelihoods) as shown beside the table.
  QString detailText() const;
  /// Shows the item in source row `row` (selects it in the table, clearing filters that hide it).
  void selectItem(int row);

 private:
  void fillOutcomes();
  void showSelected();
  void updateCount();

  ItemsTableModel* model_;
  ItemsFilterProxy* proxy_;
  QLabel* summary_;
  QComboBox* outcome_;
  QLineEdit* search_;
  QLabel* count_;
  QTableView* table_;
  QLabel* detail_;
  QCustomPlot* plot_;
};

}  // namespace layerscope::views
