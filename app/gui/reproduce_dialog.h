// "Reproduce the co-localization study...": the inputs of `layerscope-cli reproduce` (model, benchmarks folder,
// output folder, pairs file, training split, steps), what will run and its estimated cost (estimateReproduce on the
// job runner), the protocol as one cancellable job with a progress tree, and the report at the end (drawn on the
// GUI thread with views::writeReproduceReport, shown as its "paper vs this run" table, opened in the browser or
// exported). Resumable like the command: running again into the same folder skips the finished steps.
#pragma once

#include <QDialog>
#include <QPointer>
#include <QString>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTextBrowser;
class QTreeWidget;
class QTreeWidgetItem;

namespace layerscope::app {

class Job;
class JobRunner;

class ReproduceDialog : public QDialog {
  Q_OBJECT
 public:
  ReproduceDialog(JobRunner* runner, const QString& modelDir, QWidget* parent = nullptr);

  /// Sets every input (tests, and the main window's current model).
  void setInputs(const QString& model, const QString& benchmarks, const QString& out, const QString& pairs,
                 const QString& train, int steps, bool quick);
  /// Starts the estimate / the protocol on the runner; nullptr when inputs are missing or the runner is busy (the
  /// reason is in the status line).
  Job* startEstimate();
  Job* startRun();
  void cancel();

  QString planText() const;
  QString statusText() const;
  /// report.html of the last finished run ("" before).
  QString reportFile() const { return reportHtml_; }
  /// Writes the report again into `dir` (report.html, report.pdf, data/). Returns an error message, "" when done.
  QString exportReport(const QString& dir);
  QTreeWidget* progressTree() const { return tree_; }
  QTextBrowser* reportView() const { return report_; }

 Q_SIGNALS:
  /// The run ended with its report written (report.html's path).
  void reportReady(const QString& html);
  void runFailed(const QString& message);
  void runCancelled();

 private:
  /// Empty when the inputs can run, else what is missing.
  QString missingInput(bool forRun) const;
  void setRunning(bool running);
  void onProgress(const QString& stage, double fraction, double eta);
  void onFinished();
  void browse(QLineEdit* edit, bool directory, const QString& title);

  JobRunner* runner_;
  QPointer<Job> job_;
  QLineEdit *model_, *benchmarks_, *out_, *pairs_, *train_;
  QSpinBox *steps_, *seeds_;
  QCheckBox* quick_;
  QPlainTextEdit* plan_;
  QProgressBar* progress_;
  QLabel* status_;
  QTreeWidget* tree_;
  QTextBrowser* report_;
  QPushButton *estimate_, *run_, *cancel_, *open_, *export_;
  QString reportHtml_, runOut_;
};

}  // namespace layerscope::app
