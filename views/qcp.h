// QCustomPlot under QT_NO_KEYWORDS: its public header still says `signals` and `foreach`, so map them to the
// Q_ macros for the include only. Include this instead of <qcustomplot.h> everywhere.
#pragma once

#ifdef QT_NO_KEYWORDS
#  include <QtGlobal>
#  include <QObject>
#  define signals Q_SIGNALS
#  define foreach Q_FOREACH
#  include <qcustomplot.h>
#  undef signals
#  undef foreach
#else
#  include <qcustomplot.h>
#endif
