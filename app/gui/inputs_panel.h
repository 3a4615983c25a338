// "Model and task" (left dock): the model folder (+ optional adapter folder), the task files (listed by file
// name, the full path in the tooltip; the selected one is analysed, shown in bold and named below the list) and
// the model summary, read on a QtConcurrent thread from config.json and the safetensors headers.
#pragma once

#include <QFutureWatcher>
#include <QGroupBox>
#include <QStringList>

#include "app/gui/model_summary.h"

class QLabel;
class QLineEdit;
class QListWidget;
class QTextBrowser;

namespace layerscope::app {

class InputsPanel : public QGroupBox {
  Q_OBJECT
 public:
  explicit InputsPanel(QWidget* parent = nullptr);

  /// Shows `dir`, starts reading its summary and emits modelDirChanged.
  void setModelDir(const QString& dir);
  QString modelDir() const;
  void setAdapterDir(const QString& dir);
  QString adapterDir() const;
  /// Adds `file` (once) and selects it; emits taskAdded for a new file.
  void addTaskFile(const QString& file);
  void clearTasks();
  QStringList taskFiles() const;
  /// The selected task file (the one analysed), its full path; empty when none.
  QString currentTask() const;
  /// Selects `file` when listed; false otherwise.
  bool selectTask(const QString& file);
  /// For tests: the task list (items show file names; Qt::UserRole holds the full path).
  QListWidget* taskList() const { return taskList_; }

 Q_SIGNALS:
  void modelDirChanged(const QString& dir);
  void taskAdded(const QString& file);
  void summaryReady();

 private:
  QLineEdit* modelEdit_;
  QLineEdit* adapterEdit_;
  void onCurrentTaskChanged();

  QListWidget* taskList_;
  QLabel* selectedTask_;
  QTextBrowser* summary_;
  QFutureWatcher<ModelSummary> summaryWatcher_;
};

}  // namespace layerscope::app
