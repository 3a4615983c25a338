#include "app/gui/split_check.h"

#include <QDir>
#include <QFileInfo>
#include <QObject>
#include <algorithm>

#include "core/model/scoring.h"

namespace layerscope::app {

std::vector<int> splitSampleOrder(int total, int maxItems) {
  std::vector<int> order;
  const int n = std::min(total, std::max(1, maxItems));
  // Item i * total / n for i = 0..n-1, reordered coarse to fine (bit-reversed) so that every prefix is spread
  // over the whole file: tasks are often sorted by difficulty or by generator setting.
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  for (int r = 0; r < (1 << bits); ++r) {
    int rev = 0;
    for (int b = 0; b < bits; ++b)
      if (r & (1 << b)) rev |= 1 << (bits - 1 - b);
    if (rev < n) order.push_back(int((long long)rev * total / n));
  }
  return order;
}

SplitCheck checkOutcomeSplit(const core::LlamaModel& model, const core::Tokenizer& tok, const core::PreparedTask& task,
                             const core::ScoringOptions& opt, int maxItems, const core::JobControl* job) {
  SplitCheck c;
  c.total = int(task.items.size());
  const std::vector<int> order = splitSampleOrder(c.total, maxItems);
  const std::size_t batch = std::size_t(std::max(1, opt.batchSize));
  for (std::size_t start = 0; start < order.size() && !c.bothOutcomes(); start += batch) {
    core::PreparedTask part;
    part.kind = task.kind;
    part.name = task.name;
    part.source = task.source;
    for (std::size_t i = start; i < std::min(order.size(), start + batch); ++i) part.items.push_back(task.items[size_t(order[i])]);
    const core::EvalResult r = core::evaluate(model, tok, part, opt, job);
    for (const core::ItemResult& it : r.items) ++(it.correct ? c.correct : c.incorrect);
    c.checked += int(r.items.size());
  }
  return c;
}

QString oneSidedTaskMessage(const QString& taskFile, const SplitCheck& c) {
  const QString name = QFileInfo(taskFile).fileName();
  const bool all = c.checked >= c.total;
  const QString outcome = c.correct == 0 ? QObject::tr("none of them correctly") : QObject::tr("all of them correctly");
  QString text = all ? QObject::tr("The model answers %1 items of %2: %3.").arg(c.total).arg(name, outcome)
                     : QObject::tr("In a sample of %1 of the %2 items of %3, the model answers %4.")
                           .arg(c.checked).arg(c.total).arg(name, outcome);
  text += QLatin1Char(' ') +
          QObject::tr("The sensitivity analysis in \"outcome\" mode compares correctly and incorrectly answered items, "
                      "so it needs both.\n\nChoose a task the model gets partly right, or switch Sensitivity mode to "
                      "\"pairs\" with a pairs task (a correct and an incorrect completion per prompt).");
  const QString pairs = pairsTaskBeside(taskFile);
  if (!pairs.isEmpty()) text += QLatin1Char(' ') + QObject::tr("%1 is the pairs form of this task.").arg(QFileInfo(pairs).fileName());
  return text;
}

bool isOneSidedTaskError(const QString& message) {
  return message.contains(QLatin1String("outcome-mode sensitivity needs both"));
}

QString pairsTaskBeside(const QString& taskFile) {
  const QFileInfo fi(taskFile);
  const QString base = fi.fileName();
  if (!base.endsWith(QLatin1String(".jsonl"))) return {};
  const QString stem = base.left(base.size() - 6);
  const int dot = stem.lastIndexOf(QLatin1Char('.'));
  if (dot <= 0) return {};
  const QString pairs = fi.dir().filePath(stem.left(dot) + QStringLiteral(".pairs.jsonl"));
  return QFileInfo(pairs) != fi && QFileInfo::exists(pairs) ? pairs : QString();
}

}  // namespace layerscope::app
