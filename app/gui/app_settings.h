// The application's settings, the only user of QSettings: one INI file (default
// ~/.config/LayerScope/LayerScope/layerscope.ini on Linux, AppSettings::defaultFile()) with recent files, window layout, the first-start flag and the folder
// new analysis results go to.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QStringList>

class QSettings;

namespace layerscope::app {

class AppSettings : public QObject {
  Q_OBJECT
 public:
  enum class Recent { Results, Models, Tasks, Sessions };

  explicit AppSettings(const QString& file, QObject* parent = nullptr);
  /// The INI file used without --settings: <AppConfigLocation>/layerscope.ini, i.e. on Linux
  /// $XDG_CONFIG_HOME (default ~/.config) / organization / application / layerscope.ini.
  static QString defaultFile();

  /// Newest first, at most kMaxRecent.
  QStringList recent(Recent kind) const;
  void addRecent(Recent kind, const QString& path);

  QByteArray windowGeometry() const;
  QByteArray windowState() const;
  void saveWindow(const QByteArray& geometry, const QByteArray& state);

  /// True only on the very first call for this settings file (the first start).
  bool takeFirstStart();
  /// Where new analysis results go (setting `resultsRoot`; default <app data>/results).
  QString resultsRoot() const;

  /// File > Reopen last session at start (setting `session/reopenLast`, default off).
  bool reopenLastSession() const;
  void setReopenLastSession(bool on);
  /// The session written when the window closes: last.lssession beside the settings file.
  QString lastSessionFile() const;

  static constexpr int kMaxRecent = 8;

 Q_SIGNALS:
  void recentChanged();

 private:
  QSettings* settings_;
};

}  // namespace layerscope::app
