#include "app/gui/model_summary.h"

#include <QObject>
#include <cmath>
#include <exception>

#include "core/model/checkpoint.h"

namespace layerscope::app {
namespace {

QString humanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return QStringLiteral("%1 %2").arg(b, 0, 'f', u ? 1 : 0).arg(QLatin1String(units[u]));
}

}  // namespace

QString parameterCountText(double n) {
  // "2,330,496 (2.33 M)": the exact count, then 3 significant digits in the unit that keeps the mantissa >= 1.
  const QString exact = QStringLiteral("%L1").arg(qlonglong(std::llround(n)));
  struct Unit {
    double scale;
    const char* name;
  };
  static const Unit kUnits[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}};
  for (const Unit& u : kUnits)
    if (n >= u.scale) return QStringLiteral("%1 (%2 %3)").arg(exact, QString::number(n / u.scale, 'g', 3), QLatin1String(u.name));
  return exact;
}

ModelSummary summariseModel(const QString& dir) {
  ModelSummary s{dir, {}, {}};
  try {
    const auto ck = core::Checkpoint::open(dir.toStdString());
    const auto j = ck.config().summary();
    const double params = double(ck.config().parameterCount());
    QString rows;
    auto row = [&](const QString& k, const QString& v) { rows += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>").arg(k, v); };
    row(QObject::tr("type"), QString::fromStdString(j.value("model_type", std::string("llama"))));
    row(QObject::tr("layers"), QString::number(j.value("layers", 0)));
    row(QObject::tr("heads / KV heads"), QStringLiteral("%1 / %2 (n_rep %3)").arg(j.value("heads", 0)).arg(j.value("kv_heads", 0))
                                             .arg(j.value("kv_heads", 1) ? j.value("heads", 0) / j.value("kv_heads", 1) : 0));
    row(QObject::tr("head_dim"), QString::number(j.value("head_dim", 0)));
    row(QObject::tr("hidden / MLP"), QStringLiteral("%1 / %2").arg(j.value("hidden", 0)).arg(j.value("intermediate", 0)));
    row(QObject::tr("vocabulary"), QString::number(j.value("vocab", 0)));
    row(QObject::tr("parameters"), parameterCountText(params));
    row(QObject::tr("stored dtype"), QString::fromStdString(ck.storedDtype()));
    const auto& rope = j["rope"];
    QString ropeText = QStringLiteral("theta %1, %2").arg(rope.value("theta", 0.0)).arg(QString::fromStdString(rope.value("scaling", std::string("none"))));
    if (rope.contains("factor")) ropeText += QStringLiteral(" x%1").arg(rope["factor"].get<double>());
    row(QObject::tr("RoPE"), ropeText);
    row(QObject::tr("files"), humanBytes(double(ck.fileBytes())));
    // Weights dominate memory: float32 compute converts bf16 weights; bf16 compute keeps 2 bytes each.
    row(QObject::tr("memory estimate"), QObject::tr("%1 in float32, %2 in bfloat16 (+ activations)")
                                            .arg(humanBytes(params * 4), humanBytes(params * 2)));
    if (!ck.unexpected().empty()) row(QObject::tr("warning"), QObject::tr("%1 unused tensors").arg(ck.unexpected().size()));
    s.html = QStringLiteral("<table cellspacing=2>%1</table>").arg(rows);
  } catch (const std::exception& e) {
    s.error = QString::fromUtf8(e.what());
  }
  return s;
}

}  // namespace layerscope::app
