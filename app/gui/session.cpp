#include "app/gui/session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include "core/base/error.h"

namespace layerscope::app {
namespace {

const QString kFormat = QStringLiteral("layerscope.session/2");

/// Reads typed keys of a session object; a present key of the wrong type throws, naming the file and the key.
struct Reader {
  const QJsonObject& j;
  const QString& file;

  [[noreturn]] void fail(const QString& key, const char* expected) const {
    throw Error("'" + file.toStdString() + "', key '" + key.toStdString() + "': expected " + expected);
  }
  QString string(const QString& key) const {
    const QJsonValue v = j.value(key);
    if (v.isUndefined() || v.isNull()) return {};
    if (!v.isString()) fail(key, "a string");
    return v.toString();
  }
  QStringList strings(const QString& key) const {
    QStringList out;
    for (const QJsonValue& v : array(key)) {
      if (!v.isString()) fail(key, "an array of strings");
      out << v.toString();
    }
    return out;
  }
  QJsonArray array(const QString& key) const {
    const QJsonValue v = j.value(key);
    if (v.isUndefined() || v.isNull()) return {};
    if (!v.isArray()) fail(key, "an array");
    return v.toArray();
  }
  QJsonObject object(const QString& key) const {
    const QJsonValue v = j.value(key);
    if (v.isUndefined() || v.isNull()) return {};
    if (!v.isObject()) fail(key, "an object");
    return v.toObject();
  }
  bool boolean(const QString& key) const {
    const QJsonValue v = j.value(key);
    if (v.isUndefined() || v.isNull()) return false;
    if (!v.isBool()) fail(key, "true or false");
    return v.toBool();
  }
};

}  // namespace

QJsonObject Session::toJson() const {
  QJsonArray sel;
  for (int l : selection) sel.append(l);
  return {{QStringLiteral("format"), kFormat},
          {QStringLiteral("model"), modelDir},
          {QStringLiteral("adapter"), adapterDir},
          {QStringLiteral("tasks"), QJsonArray::fromStringList(taskFiles)},
          {QStringLiteral("current_task"), currentTask},
          {QStringLiteral("options"), options},
          {QStringLiteral("results"), QJsonArray::fromStringList(resultsDirs)},
          {QStringLiteral("selection"), sel},
          {QStringLiteral("train"), train},
          {QStringLiteral("ablation"), ablation},
          {QStringLiteral("view"), view},
          {QStringLiteral("trained_adapters"), QJsonArray::fromStringList(trainedAdapters)},
          {QStringLiteral("docks"), QJsonObject{{QStringLiteral("train"), trainDockOpen},
                                                {QStringLiteral("ablation"), ablationDockOpen}}}};
}

Session Session::fromJson(const QJsonObject& j, const QString& file) {
  const QString format = j.value(QStringLiteral("format")).toString();
  if (format != kFormat && format != QLatin1String("layerscope.session/1"))
    throw Error("'" + file.toStdString() + "', key 'format': expected '" + kFormat.toStdString() + "', found '" +
                format.toStdString() + "'");
  const Reader r{j, file};
  Session s;
  s.modelDir = r.string(QStringLiteral("model"));
  s.adapterDir = r.string(QStringLiteral("adapter"));
  s.taskFiles = r.strings(QStringLiteral("tasks"));
  s.currentTask = r.string(QStringLiteral("current_task"));
  s.options = r.object(QStringLiteral("options"));
  s.resultsDirs = r.strings(QStringLiteral("results"));
  for (const QJsonValue& l : r.array(QStringLiteral("selection"))) {
    if (!l.isDouble() || l.toDouble() < 0 || l.toDouble() != double(l.toInt()))
      r.fail(QStringLiteral("selection"), "an array of layer numbers (integers from 0)");
    s.selection << l.toInt();
  }
  s.train = r.object(QStringLiteral("train"));
  s.ablation = r.object(QStringLiteral("ablation"));
  s.view = r.object(QStringLiteral("view"));
  s.trainedAdapters = r.strings(QStringLiteral("trained_adapters"));
  const QJsonObject docks = r.object(QStringLiteral("docks"));
  const Reader d{docks, file};
  try {
    s.trainDockOpen = d.boolean(QStringLiteral("train"));
    s.ablationDockOpen = d.boolean(QStringLiteral("ablation"));
  } catch (const Error&) {
    r.fail(QStringLiteral("docks"), "{\"train\": true/false, \"ablation\": true/false}");
  }
  return s;
}

void saveSession(const Session& s, const QString& file) {
  QSaveFile f(file);
  if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(s.toJson()).toJson()) < 0 || !f.commit())
    throw Error("cannot write the session '" + file.toStdString() + "': " + f.errorString().toStdString());
}

Session loadSession(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot open the session '" + file.toStdString() + "': " + f.errorString().toStdString());
  QJsonParseError err;
  const auto doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
    throw Error("'" + file.toStdString() + "' is not a session file (JSON error at offset " +
                std::to_string(err.offset) + ": " + err.errorString().toStdString() + ")");
  return Session::fromJson(doc.object(), file);
}

}  // namespace layerscope::app
