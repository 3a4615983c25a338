// How every panel shows a running job's progress: the bar (busy while the total is unknown) and the words
// "stage (42%, about 1:05 left)".
#pragma once

#include <QObject>
#include <QProgressBar>
#include <QString>
#include <QVariantMap>
#include <algorithm>

namespace layerscope::app {

/// "1:05" or "1:02:05".
inline QString clockText(double seconds) {
  const int s = int(std::max(0.0, seconds) + 0.5);
  const QLatin1Char zero('0');
  return s >= 3600 ? QStringLiteral("%1:%2:%3").arg(s / 3600).arg(s / 60 % 60, 2, 10, zero).arg(s % 60, 2, 10, zero)
                   : QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, zero);
}

/// The stage alone when the fraction is unknown (< 0); the ETA once the runner has one (>= 0).
inline QString progressText(const QString& stage, double fraction, double etaSeconds) {
  if (fraction < 0) return stage;
  const QString eta = etaSeconds >= 0 ? QObject::tr(", about %1 left").arg(clockText(etaSeconds)) : QString();
  return QObject::tr("%1 (%2%%3)").arg(stage, QString::number(int(fraction * 100)), eta);
}

/// An estimate job's result ({"text", "peak_bytes", "available_bytes"}: estimateAnalysisJob, estimateTrainJob) as
/// HTML, led by a red warning when the peak exceeds the available memory (> 0); `fits` says whether it does not.
inline QString estimateHtml(const QVariantMap& estimate, bool& fits) {
  const double peakBytes = estimate.value(QStringLiteral("peak_bytes")).toDouble();
  const double availableBytes = estimate.value(QStringLiteral("available_bytes")).toDouble();
  fits = availableBytes <= 0 || peakBytes <= availableBytes;
  QString html = QStringLiteral("<pre>%1</pre>").arg(estimate.value(QStringLiteral("text")).toString().toHtmlEscaped());
  if (!fits)
    html.prepend(QObject::tr("<p style='color:#b00020'><b>Warning:</b> the estimated peak of %1 GiB exceeds the %2 GiB "
                             "this machine has available now.</p>")
                     .arg(peakBytes / 1073741824.0, 0, 'f', 1)
                     .arg(availableBytes / 1073741824.0, 0, 'f', 1));
  return html;
}

/// A busy indicator while the fraction is unknown (< 0), else the fraction in thousandths.
inline void showFraction(QProgressBar* bar, double fraction) {
  if (fraction < 0) {
    bar->setRange(0, 0);
    return;
  }
  bar->setRange(0, 1000);
  bar->setValue(int(1000 * std::min(1.0, fraction)));
}

}  // namespace layerscope::app
