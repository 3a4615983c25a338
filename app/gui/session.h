// Session files (*.lssession, JSON): model and adapter paths, task files, analysis options, results
// directories and the layer selection, so a reviewer can reopen exactly what produced a figure.
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
  QJsonObject options;      ///< analysis options panel values
  QStringList resultsDirs;  ///< shown together (analyze + manipulate + drop)
  QVector<int> selection;

  QJsonObject toJson() const;
  /// Throws layerscope::Error naming the file and key when malformed.
  static Session fromJson(const QJsonObject& j, const QString& file);
};

/// Writes with QSaveFile; throws layerscope::Error.
void saveSession(const Session& s, const QString& file);
Session loadSession(const QString& file);

}  // namespace layerscope::app
