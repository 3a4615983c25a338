#include "app/gui/cli_processes.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>

#include <algorithm>
#include <csignal>

#include "app/gui/job_runner.h"
#include "core/base/error.h"

namespace layerscope::app {

QString cliExecutable() {
  const QString env = qEnvironmentVariable("LAYERSCOPE_CLI");
  if (!env.isEmpty()) return QFileInfo(env).isExecutable() ? env : QString();
  const QDir here(QCoreApplication::applicationDirPath());
  for (const QString& candidate : {here.filePath(QStringLiteral("layerscope-cli")),
                                   here.filePath(QStringLiteral("../layerscope-cli"))})
    if (QFileInfo(candidate).isExecutable()) return QFileInfo(candidate).canonicalFilePath();
  return QStandardPaths::findExecutable(QStringLiteral("layerscope-cli"));
}

bool parseCliProgress(const QString& line, double& fraction, QString& stage) {
  static const QRegularExpression re(QStringLiteral(R"(^(?:\[rank \d+\] )?\s*(\d+)% [\d.]+s(?:, ETA [\d.]+s)?  (.*\S)\s*$)"));
  const auto m = re.match(line);
  if (!m.hasMatch()) return false;
  fraction = std::clamp(m.captured(1).toDouble() / 100.0, 0.0, 1.0);
  stage = m.captured(2);
  return true;
}

void runCliProcesses(const QStringList& command, int processes, JobContext& ctx,
                     const std::function<void(const QString& line)>& onLine) {
  const QString cli = cliExecutable();
  if (cli.isEmpty())
    throw Error("processes: " + std::to_string(processes) + " needs layerscope-cli beside the GUI or on PATH (or "
                "LAYERSCOPE_CLI naming it); none was found");
  QStringList args{QStringLiteral("launch"), QStringLiteral("--nproc"), QString::number(processes), QStringLiteral("--")};
  args += command;
  QProcess p;
  p.setProgram(cli);
  p.setArguments(args);
  p.setStandardInputFile(QProcess::nullDevice());
  ctx.stage(QObject::tr("starting %1 processes").arg(processes));
  p.start();
  if (!p.waitForStarted(30000))
    throw Error("cannot start " + cli.toStdString() + ": " + p.errorString().toStdString());
  QByteArray err;           // stderr not yet parsed into lines
  QStringList lastLines;    // the last complete lines, for the error message
  bool interrupted = false;
  const auto consume = [&] {
    err += p.readAllStandardError();
    p.readAllStandardOutput();  // rank 0's summary ("wrote DIR"): the caller reads the folder itself
    for (;;) {
      qsizetype k = 0;  // the end of the next line or progress segment ('\r': launch redraws rank 0's progress)
      while (k < err.size() && err[k] != '\r' && err[k] != '\n') ++k;
      if (k == err.size()) break;
      const QString line = QString::fromUtf8(err.left(k)).trimmed();
      err.remove(0, k + 1);
      if (line.isEmpty()) continue;
      double f = 0;
      QString stage;
      if (parseCliProgress(line, f, stage)) {
        ctx.control()->report({stage.toStdString(), f, 1.0});  // throws Cancelled once a stop was requested
      } else {
        lastLines << line;
        if (lastLines.size() > 4) lastLines.removeFirst();
        static const QLatin1String kRank0("[rank 0] ");
        if (onLine && line.startsWith(kRank0)) onLine(line.mid(kRank0.size()));
      }
    }
  };
  while (p.state() != QProcess::NotRunning) {
    p.waitForFinished(100);
    try {
      consume();
      ctx.control()->checkCancelled();
    } catch (const Cancelled&) {
      if (!interrupted) ::kill(pid_t(p.processId()), SIGINT);  // launch forwards it to every rank
      interrupted = true;
    }
  }
  try {
    consume();
  } catch (const Cancelled&) {
    interrupted = true;
  }
  if (interrupted) throw Cancelled();
  if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
    throw Error(lastLines.isEmpty() ? "layerscope-cli launch failed (exit " + std::to_string(p.exitCode()) + ")"
                                    : lastLines.join(QStringLiteral("\n")).toStdString());
}

}  // namespace layerscope::app
