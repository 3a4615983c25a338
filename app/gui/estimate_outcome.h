// How the analysis and training docks show an estimate job's outcome (analyze --dry-run / train --dry-run's table
// before Run / Start, docs/scale.md): one wiring for both.
#pragma once

#include <QLabel>
#include <QObject>
#include <QString>
#include <functional>

#include "app/gui/job_runner.h"
#include "app/gui/progress_text.h"

namespace layerscope::app {

/// Shows `job`'s outcome in `status` and `estimate`: finished, the table (estimateHtml, with its warning when the
/// peak exceeds the available memory); failed, the message in red and `failedStatus`; cancelled, the status only.
/// Then `done(shown, fits)` runs in `context`'s thread: `shown` is false when cancelled, `fits` false after a
/// failure or a warning.
inline void connectEstimateOutcome(Job* job, QObject* context, QLabel* status, QLabel* estimate,
                                   const QString& failedStatus, std::function<void(bool shown, bool fits)> done) {
  auto show = [status, estimate, done](const QString& html, bool fits, const QString& statusText) {
    status->setText(statusText);
    estimate->setText(html);
    estimate->setVisible(true);
    done(true, fits);
  };
  QObject::connect(job, &Job::finished, context, [show](const QVariant& v) {
    bool fits = true;
    const QString html = estimateHtml(v.toMap(), fits);
    show(html, fits, QObject::tr("Estimate ready."));
  });
  QObject::connect(job, &Job::cancelled, context, [status, done] {
    status->setText(QObject::tr("Estimate cancelled."));
    done(false, true);
  });
  QObject::connect(job, &Job::failed, context, [show, failedStatus](const QString& message) {
    show(QStringLiteral("<p style='color:#b00020'>%1</p>").arg(message.toHtmlEscaped()), false, failedStatus);
  });
}

}  // namespace layerscope::app
