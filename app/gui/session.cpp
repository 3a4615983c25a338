#include "app/gui/session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include "core/base/error.h"

namespace layerscope::app {

QJsonObject Session::toJson() const {
  QJsonArray sel;
  for (int l : selection) sel.append(l);
  return {{QStringLiteral("format"), QStringLiteral("layerscope.session/1")},
          {QStringLiteral("model"), modelDir},
          {QStringLiteral("adapter"), adapterDir},
          {QStringLiteral("tasks"), QJsonArray::fromStringList(taskFiles)},
          {QStringLiteral("options"), options},
          {QStringLiteral("results"), QJsonArray::fromStringList(resultsDirs)},
          {QStringLiteral("selection"), sel}};
}

Session Session::fromJson(const QJsonObject& j, const QString& file) {
  if (j.value(QStringLiteral("format")).toString() != QLatin1String("layerscope.session/1"))
    throw Error("'" + file.toStdString() + "', key 'format': expected 'layerscope.session/1', found '" +
                j.value(QStringLiteral("format")).toString().toStdString() + "'");
  Session s;
  s.modelDir = j.value(QStringLiteral("model")).toString();
  s.adapterDir = j.value(QStringLiteral("adapter")).toString();
  for (const auto& t : j.value(QStringLiteral("tasks")).toArray()) s.taskFiles << t.toString();
  s.options = j.value(QStringLiteral("options")).toObject();
  for (const auto& r : j.value(QStringLiteral("results")).toArray()) s.resultsDirs << r.toString();
  for (const auto& l : j.value(QStringLiteral("selection")).toArray()) s.selection << l.toInt();
  return s;
}

void saveSession(const Session& s, const QString& file) {
  QSaveFile f(file);
  if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(s.toJson()).toJson()) < 0 || !f.commit())
    throw Error("cannot write the session '" + file.toStdString() + "': " + f.errorString().toStdString());
}

Session loadSession(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) throw Error("cannot open the session '" + file.toStdString() + "'");
  QJsonParseError err;
  const auto doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
    throw Error("'" + file.toStdString() + "' is not a session file (JSON error at offset " +
                std::to_string(err.offset) + ": " + err.errorString().toStdString() + ")");
  return Session::fromJson(doc.object(), file);
}

}  // namespace layerscope::app
