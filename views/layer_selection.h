// The linked layer selection: one instance shared by every view, so selecting a layer or a range anywhere
// highlights it everywhere. Plain state plus a change signal; views request changes, never own the state.
#pragma once

#include <QObject>
#include <QVector>

namespace layerscope::views {

class LayerSelection : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;
  const QVector<int>& layers() const { return layers_; }
  bool contains(int layer) const { return layers_.contains(layer); }
  /// Contiguous runs [first, last] of the sorted selection, for drawing bands.
  QVector<QPair<int, int>> runs() const;

 public Q_SLOTS:
  /// Replaces the selection (sorted, de-duplicated); emits changed() only when it differs.
  void setLayers(QVector<int> layers);
  void clear() { setLayers({}); }

 Q_SIGNALS:
  void changed(const QVector<int>& layers);

 private:
  QVector<int> layers_;
};

}  // namespace layerscope::views
