// Session files (*.lssession, JSON, format layerscope.session/2; /1 files still open): everything on screen, so a
// reviewer can reopen exactly what produced a figure: model and adapter paths, the task files and the selected
// one, the analysis options, the training and ablation docks' inputs (and whether they are open), the adapters
// trained in the window with the loss curves, the results shown, the Runs list (checked runs, score, A / B), the
// figure toolbar, the current tab and the layer selection. docs/gui.md lists the keys.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>

namespace layerscope::app {

struct Session {
  QString modelDir;
  QString adapterDir;
  QStringList taskFiles;
  QString currentTask;      ///< the selected (analysed) task file; empty: the last one added
  QJsonObject options;      ///< analysis options panel values
  QStringList resultsDirs;  ///< shown together (analyze + manipulate + drop)
  QVector<int> selection;
  QJsonObject train;             ///< TrainPanel::sessionJson: inputs, loss curves, status lines
  QJsonObject ablation;          ///< AblationPanel::sessionJson: inputs
  QJsonObject view;              ///< ResultsArea::sessionJson: figure toolbar, current tab, Runs list
  QStringList trainedAdapters;   ///< adapter folders trained in the window, oldest first
  bool trainDockOpen = false;
  bool ablationDockOpen = false;

  QJsonObject toJson() const;
  /// Throws layerscope::Error naming the file and the key when malformed (wrong format, a key of the wrong type).
  static Session fromJson(const QJsonObject& j, const QString& file);
};

/// Writes with QSaveFile; throws layerscope::Error.
void saveSession(const Session& s, const QString& file);
Session loadSession(const QString& file);

}  // namespace layerscope::app
