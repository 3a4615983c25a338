#include "views/score_names.h"

#include <QObject>
#include <algorithm>

namespace layerscope::views {
namespace {

// The built-in groups, in display order; any other group (a registered extra profile) follows alphabetically.
constexpr std::string_view kBuiltIn[] = {"sensitivity", "rope_influence", "redundancy"};

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

int groupRank(std::string_view key) {
  const std::string_view group = key.substr(0, key.find('.'));
  for (int i = 0; i < int(std::size(kBuiltIn)); ++i)
    if (group == kBuiltIn[i]) return i;
  return int(std::size(kBuiltIn));
}

QString spaced(QString s) { return s.replace(QLatin1Char('_'), QLatin1Char(' ')).replace(QLatin1Char('.'), QLatin1Char(' ')); }

}  // namespace

bool isIntervalKey(std::string_view key) { return endsWith(key, ".ci_low") || endsWith(key, ".ci_high"); }

QString keyGroup(const QString& key) { return key.section(QLatin1Char('.'), 0, 0); }

std::vector<std::string> profileKeys(const results::Scores& scores) {
  std::vector<std::string> keys;
  for (const auto& [key, v] : scores.layerScores)
    if (!isIntervalKey(key)) keys.push_back(key);
  // The map is sorted by key, so a stable sort by group rank keeps groups (and keys in them) alphabetical.
  std::stable_sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) { return groupRank(a) < groupRank(b); });
  return keys;
}

QString readableKey(const QString& key) {
  const QString group = keyGroup(key), rest = key.section(QLatin1Char('.'), 1);
  if (group == QLatin1String("redundancy") && !rest.isEmpty())
    return QObject::tr("redundancy: %1, cosine similarity of the module's input and output (higher = more redundant; "
                       "the Redundancy plot shows 1 \u2212 similarity)").arg(spaced(rest));
  const QString name = group == QLatin1String("rope_influence") ? QObject::tr("RoPE influence") : spaced(group);
  return rest.isEmpty() ? name : name + QStringLiteral(": ") + spaced(rest);
}

QString seriesLabel(const QString& key) {
  const QString group = keyGroup(key), rest = key.section(QLatin1Char('.'), 1);
  if (group == QLatin1String("sensitivity")) return QObject::tr("sensitivity (%1)").arg(rest);
  if (group == QLatin1String("rope_influence")) return QObject::tr("RoPE influence (%1)").arg(rest);
  return readableKey(key);
}

QString sideName(const QString& key) {
  const QString group = keyGroup(key);
  if (group == QLatin1String("sensitivity")) return QObject::tr("sensitivity");
  if (group == QLatin1String("rope_influence")) return QObject::tr("RoPE");
  return readableKey(key);
}

}  // namespace layerscope::views
