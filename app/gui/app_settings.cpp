#include "app/gui/app_settings.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

namespace layerscope::app {
namespace {

QString recentKey(AppSettings::Recent kind) {
  switch (kind) {
    case AppSettings::Recent::Results: return QStringLiteral("recent/results");
    case AppSettings::Recent::Models: return QStringLiteral("recent/models");
    case AppSettings::Recent::Tasks: return QStringLiteral("recent/tasks");
    case AppSettings::Recent::Sessions: return QStringLiteral("recent/sessions");
  }
  return {};
}

}  // namespace

AppSettings::AppSettings(const QString& file, QObject* parent)
    : QObject(parent), settings_(new QSettings(file, QSettings::IniFormat, this)) {}

QStringList AppSettings::recent(Recent kind) const { return settings_->value(recentKey(kind)).toStringList(); }

void AppSettings::addRecent(Recent kind, const QString& path) {
  QStringList list = recent(kind);
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kMaxRecent) list.removeLast();
  settings_->setValue(recentKey(kind), list);
  Q_EMIT recentChanged();
}

QByteArray AppSettings::windowGeometry() const { return settings_->value(QStringLiteral("window/geometry")).toByteArray(); }
QByteArray AppSettings::windowState() const { return settings_->value(QStringLiteral("window/state")).toByteArray(); }

void AppSettings::saveWindow(const QByteArray& geometry, const QByteArray& state) {
  settings_->setValue(QStringLiteral("window/geometry"), geometry);
  settings_->setValue(QStringLiteral("window/state"), state);
  settings_->sync();
}

bool AppSettings::takeFirstStart() {
  if (settings_->value(QStringLiteral("firstStartDone"), false).toBool()) return false;
  settings_->setValue(QStringLiteral("firstStartDone"), true);
  return true;
}

QString AppSettings::defaultFile() {
  return QStandardPaths::writableLocation(QStandardPaths::AppConfigLocation) + QStringLiteral("/layerscope.ini");
}

QString AppSettings::resultsRoot() const {
  return settings_->value(QStringLiteral("resultsRoot"),
                          QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/results"))
      .toString();
}

bool AppSettings::reopenLastSession() const { return settings_->value(QStringLiteral("session/reopenLast"), false).toBool(); }

void AppSettings::setReopenLastSession(bool on) {
  settings_->setValue(QStringLiteral("session/reopenLast"), on);
  settings_->sync();
}

QString AppSettings::lastSessionFile() const {
  return QFileInfo(settings_->fileName()).dir().filePath(QStringLiteral("last.lssession"));
}

}  // namespace layerscope::app
