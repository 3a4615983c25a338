// Table model over layers.csv data: one row per layer, one column per layer score. DisplayRole shows 4
// significant digits, ToolTipRole and kRawRole the exact value (sorting uses kRawRole through a proxy).
#pragma once

#include <QAbstractTableModel>

#include "results/results.h"

namespace layerscope::views {

class LayersTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  static constexpr int kRawRole = Qt::UserRole + 1;
  using QAbstractTableModel::QAbstractTableModel;

  void setTable(const results::LayerTable& table);
  const results::LayerTable& table() const { return table_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  results::LayerTable table_;
};

}  // namespace layerscope::views
