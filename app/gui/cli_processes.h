// Local data-parallel runs from the GUI (issue 15, docs/distributed.md): "processes: N" in the analysis and training
// docks runs the job as `layerscope-cli launch --nproc N -- COMMAND ...` in child processes. The job body supervises
// them on the worker thread: rank 0's progress line becomes the job's progress, Cancel sends SIGINT to launch (which
// forwards it to every rank; nothing is written then), and a failed rank fails the job with launch's message.
#pragma once

#include <QString>
#include <QStringList>

#include <functional>

namespace layerscope::app {

class JobContext;

/// The layerscope-cli that runs multi-process jobs: $LAYERSCOPE_CLI, else `layerscope-cli` beside this executable
/// (installed layout) or one folder up (build tree: app/gui/layerscope, app/layerscope-cli), else on PATH. Empty
/// when there is none.
QString cliExecutable();

/// Runs `layerscope-cli launch --nproc <processes> -- <command>` and returns when every rank has ended. Progress
/// and cancellation through `ctx`; every other line of the ranks' stderr goes to `onLine` (prefix "[rank i] "
/// removed; rank 0's only). Throws Cancelled when cancelled, core Error with the ranks' last message when the job
/// fails or the CLI cannot be started. The command's output folder is the caller's to read afterwards.
void runCliProcesses(const QStringList& command, int processes, JobContext& ctx,
                     const std::function<void(const QString& line)>& onLine = {});

/// Parses one progress line of layerscope-cli ("[rank 0]  45% 1.5s, ETA 1.9s  rope influence (layer 3)"): the
/// fraction 0..1 and the stage. False when `line` is not one.
bool parseCliProgress(const QString& line, double& fraction, QString& stage);

}  // namespace layerscope::app
