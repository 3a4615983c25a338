#include "views/layers_table_model.h"

#include <cmath>

#include "views/figure_style.h"
#include "views/score_names.h"

namespace layerscope::views {

void LayersTableModel::setTable(const results::LayerTable& table) {
  beginResetModel();
  table_ = table;
  endResetModel();
}

int LayersTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(table_.rows.size());
}

int LayersTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : (table_.rows.empty() && table_.columns.empty() ? 0 : int(table_.columns.size()) + 1);
}

QVariant LayersTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const int r = index.row(), c = index.column();
  const double v = c == 0 ? double(r) : table_.rows[size_t(r)][size_t(c - 1)];
  switch (role) {
    case Qt::DisplayRole: return c == 0 ? QVariant(r) : QVariant(fmt(v, 4));
    case Qt::ToolTipRole: return c == 0 ? QVariant(tr("layer %1").arg(r)) : QVariant(exact(v));
    case kRawRole: return c == 0 ? QVariant(r) : QVariant(std::isnan(v) ? -INFINITY : v);
    case Qt::TextAlignmentRole: return QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
    default: return {};
  }
}

QVariant LayersTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  const bool column = orientation == Qt::Horizontal && section >= 1 && section - 1 < int(table_.columns.size());
  // The header is the exact layers.csv column name; its tooltip the readable name (score_names.h).
  if (role == Qt::ToolTipRole && column) return readableKey(QString::fromStdString(table_.columns[size_t(section - 1)]));
  if (role != Qt::DisplayRole) return QAbstractTableModel::headerData(section, orientation, role);
  if (orientation == Qt::Vertical) return section;
  if (section == 0) return tr("layer");
  if (column) {
    // Redundancy columns hold the cosine similarity (the Redundancy plot draws 1 - similarity): say so.
    const QString name = QString::fromStdString(table_.columns[size_t(section - 1)]);
    return name.startsWith(QLatin1String("redundancy.")) ? name + tr("\n(cos similarity)") : name;
  }
  return {};
}

}  // namespace layerscope::views
