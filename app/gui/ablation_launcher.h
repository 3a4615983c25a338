// "Run 4-way ablation" (METHODS section 8): runs `layerscope-cli ablate` as a child process (no ablation
// library function exists in core/ or analysis/; the CLI owns the arm loop, its resume and report.json), shows
// progress parsed from its stderr lines, cancels with SIGINT (the CLI stops before its next step and keeps the
// finished arms for a later resume), and reports the output folder when report.json is written.
#pragma once

#include <QElapsedTimer>
#include <QProcess>
#include <QStringList>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTimer;

namespace layerscope::app {

/// Progress of an ablation from one stderr line of `layerscope-cli ablate`.
struct AblationLine {
  enum Kind { None, Base, ArmStart, ArmStep, ArmDone } kind = None;
  QString arm;
  int step = 0, total = 0;
};
/// Parses "base: {...}", "C2: LoRA ..", "C2 step 10/200 ..", "C2: {...}" / "C2: done earlier ..".
AblationLine parseAblationLine(const QString& line);

/// The layerscope-cli executable: $LAYERSCOPE_CLI, beside the GUI, the build tree's app/, or PATH.
QString findCli();

class AblationLauncher : public QWidget {
  Q_OBJECT
 public:
  explicit AblationLauncher(QWidget* parent = nullptr);
  ~AblationLauncher() override;

  void setModelDir(const QString& dir);
  /// Prefills the analysis results folder (one holding stats.json with top_k).
  void setAnalysisDir(const QString& dir);
  void setBlocked(bool blocked);
  /// Starts the child process; false (with failed()) if inputs are missing.
  bool start();
  void cancel();
  bool isRunning() const { return process_ != nullptr; }
  /// The command line start() runs (program first).
  QStringList commandLine() const;
  /// Fraction done in [0, 1] after the lines seen so far.
  double fraction() const;

  QLineEdit* analysisEdit() const { return analysisEdit_; }
  QLineEdit* trainEdit() const { return trainEdit_; }
  QLineEdit* evalEdit() const { return evalEdit_; }
  QLineEdit* outEdit() const { return outEdit_; }
  QSpinBox* stepsSpin() const { return steps_; }
  QSpinBox* controlSeedsSpin() const { return controlSeeds_; }
  QSpinBox* batchSpin() const { return batch_; }
  QPushButton* startButton() const { return startButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }

 Q_SIGNALS:
  void runningChanged(bool running);
  void finished(const QString& outDir);
  void cancelled();
  void failed(const QString& title, const QString& message);

 private:
  void onStderr();
  void handleLine(const QString& line);
  void onExit(int code, QProcess::ExitStatus status);
  void updateButtons();

  QString modelDir_;
  QProcess* process_ = nullptr;
  QTimer* killTimer_;
  QElapsedTimer clock_;
  QByteArray partial_;
  QStringList tail_;
  bool cancelling_ = false, blocked_ = false;
  int armsTotal_ = 0, armsDone_ = 0, step_ = 0, stepsTotal_ = 0;
  QString currentArm_, pendingOut_;

  QLabel* modelLabel_;
  QLineEdit* analysisEdit_;
  QLineEdit* trainEdit_;
  QLineEdit* evalEdit_;
  QLineEdit* outEdit_;
  QSpinBox* steps_;
  QSpinBox* controlSeeds_;
  QSpinBox* seed_;
  QSpinBox* batch_;
  QComboBox* dtype_;
  QPushButton* startButton_;
  QPushButton* cancelButton_;
  QProgressBar* progress_;
  QLabel* status_;
  QPlainTextEdit* log_;
};

}  // namespace layerscope::app
