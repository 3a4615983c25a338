// Sessions (session.h): what each panel saves of itself and how it comes back. The panels list their inputs by key
// (widget_state.h); the values that are not inputs (loss curves, status lines, the Runs list) are added here.
#include <QCheckBox>
#include <QComboBox>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QSet>
#include <algorithm>

#include "app/gui/ablation_panel.h"
#include "app/gui/results_area.h"
#include "app/gui/train_panel.h"
#include "app/gui/widget_state.h"
#include "views/loss_curve_view.h"
#include "views/runs_view.h"

namespace layerscope::app {
namespace {

/// The keys of the line edits in `user` ("user_set": inputs the user chose, which the analysis on screen no longer
/// fills), and back.
QJsonArray userSetKeys(const QList<SettingWidget>& widgets, const QSet<const QLineEdit*>& user) {
  QJsonArray keys;
  for (const SettingWidget& w : widgets)
    if (const auto* e = qobject_cast<const QLineEdit*>(w.widget); e && user.contains(e)) keys << w.key;
  return keys;
}

void applyUserSetKeys(const QList<SettingWidget>& widgets, const QJsonObject& o, const QString& prefix,
                      QSet<const QLineEdit*>& user, QStringList& problems) {
  user.clear();  // a session without the key (layerscope.session/2 before it) marks nothing as chosen
  const QJsonValue v = o.value(QStringLiteral("user_set"));
  if (v.isUndefined()) return;
  if (!v.isArray()) {
    problems << prefix + QStringLiteral(".user_set: expected an array of keys");
    return;
  }
  for (const QJsonValue& k : v.toArray()) {
    const auto it = std::find_if(widgets.begin(), widgets.end(), [&](const SettingWidget& w) { return w.key == k.toString(); });
    if (const auto* e = it == widgets.end() ? nullptr : qobject_cast<const QLineEdit*>(it->widget)) user.insert(e);
    else problems << prefix + QStringLiteral(".user_set: '%1' is not a text input").arg(k.toString());
  }
}

}  // namespace

// ---- Training dock

QList<SettingWidget> TrainPanel::settingWidgets() const {
  return {{QStringLiteral("lora_layers"), loraEdit_}, {QStringLiteral("garfa_layers"), garfaEdit_},
          {QStringLiteral("rank"), rank_},            {QStringLiteral("alpha"), alpha_},
          {QStringLiteral("dropout"), dropout_},      {QStringLiteral("targets"), targets_},
          {QStringLiteral("lora_lr"), loraLr_},       {QStringLiteral("garfa_lr"), garfaLr_},
          {QStringLiteral("clamp"), clamp_},          {QStringLiteral("min_alpha"), minAlpha_},
          {QStringLiteral("max_alpha"), maxAlpha_},   {QStringLiteral("steps"), steps_},
          {QStringLiteral("batch"), batch_},          {QStringLiteral("grad_accum"), gradAccum_},
          {QStringLiteral("processes"), processes_},
          {QStringLiteral("checkpoint_every"), checkpointEvery_}, {QStringLiteral("seed"), seed_},
          {QStringLiteral("dtype"), dtype_},          {QStringLiteral("device"), device_},
          {QStringLiteral("train_file"), trainEdit_}, {QStringLiteral("eval_file"), evalEdit_},
          {QStringLiteral("eval_loss"), evalLoss_},
          {QStringLiteral("out_dir"), outEdit_},      {QStringLiteral("smoothing"), smoothing_},
          {QStringLiteral("log_scale"), logScale_}};
}

QJsonObject TrainPanel::sessionJson() const {
  QJsonObject o = widgetValues(settingWidgets());
  o.insert(QStringLiteral("loss_curves"), loss_->curvesJson());
  o.insert(QStringLiteral("last_run"), QJsonObject{{QStringLiteral("label"), lastRunLabel_},
                                                   {QStringLiteral("points"), int(lastRunSteps_.size())}});
  o.insert(QStringLiteral("status"), status_->text());
  o.insert(QStringLiteral("result"), result_->text());
  o.insert(QStringLiteral("eval_result"), evalResult_->text());
  o.insert(QStringLiteral("user_set"), userSetKeys(settingWidgets(), userSet_));
  return o;
}

void TrainPanel::applySessionJson(const QJsonObject& o, const QStringList& trainedAdapters, QStringList& problems) {
  applyWidgetValues(settingWidgets(), o, QStringLiteral("train"), problems);
  applyUserSetKeys(settingWidgets(), o, QStringLiteral("train"), userSet_, problems);
  trainedAdapters_ = trainedAdapters;
  if (o.contains(QStringLiteral("loss_curves"))) {
    const QString p = loss_->applyCurvesJson(o.value(QStringLiteral("loss_curves")).toObject());
    if (!p.isEmpty()) problems << QStringLiteral("train.loss_curves: ") + p;
  }
  // The finished run on the curve becomes a dashed earlier run when the next one starts, as before the session.
  const QJsonObject last = o.value(QStringLiteral("last_run")).toObject();
  lastRunLabel_ = last.value(QStringLiteral("label")).toString();
  lastRunSteps_.clear();
  if (!lastRunLabel_.isEmpty() && last.value(QStringLiteral("points")).toInt() == loss_->pointCount()) lastRunSteps_ = loss_->steps();
  else lastRunLabel_.clear();
  for (const auto& [key, label] : {std::pair{"status", status_}, {"result", result_}, {"eval_result", evalResult_}})
    if (o.value(QLatin1String(key)).isString()) label->setText(o.value(QLatin1String(key)).toString());
  updateButtons();
}

// ---- Ablation dock

QList<SettingWidget> AblationPanel::settingWidgets() const {
  return {{QStringLiteral("analysis_dir"), analysisEdit_}, {QStringLiteral("train_file"), trainEdit_},
          {QStringLiteral("eval_files"), evalEdit_},       {QStringLiteral("out_dir"), outEdit_},
          {QStringLiteral("steps"), steps_},               {QStringLiteral("control_seeds"), controlSeeds_},
          {QStringLiteral("seed"), seed_},                 {QStringLiteral("batch"), batch_},
          {QStringLiteral("dtype"), dtype_}};
}

QJsonObject AblationPanel::sessionJson() const {
  QJsonObject o = widgetValues(settingWidgets());
  o.insert(QStringLiteral("user_set"), userSetKeys(settingWidgets(), userSet_));
  return o;
}

void AblationPanel::applySessionJson(const QJsonObject& o, QStringList& problems) {
  applyWidgetValues(settingWidgets(), o, QStringLiteral("ablation"), problems);
  applyUserSetKeys(settingWidgets(), o, QStringLiteral("ablation"), userSet_, problems);
}

// ---- Results area: figure toolbar, current tab, Runs list

QJsonObject ResultsArea::sessionJson() const {
  QJsonObject o = widgetValues({{QStringLiteral("size"), sizePreset_}, {QStringLiteral("colormap"), colormap_},
                                {QStringLiteral("twin_axes"), twinAxes_}, {QStringLiteral("ranks"), ranks_},
                                {QStringLiteral("export_selection"), exportSelection_}, {QStringLiteral("export_zoom"), exportZoom_},
                                {QStringLiteral("heatmap"), heatmapKind_}});
  o.insert(QStringLiteral("profile"), profileMetric_->currentText());
  o.insert(QStringLiteral("tab"), tabText(currentIndex()));
  o.insert(QStringLiteral("runs"), QJsonArray::fromStringList(runFolders()));
  o.insert(QStringLiteral("runs_checked"), QJsonArray::fromStringList(runs_->checkedRuns()));
  o.insert(QStringLiteral("runs_score"), runs_->keyCombo()->currentText());
  o.insert(QStringLiteral("runs_a"), runs_->differenceRunA());
  o.insert(QStringLiteral("runs_b"), runs_->differenceRunB());
  return o;
}

void ResultsArea::restoreRunFolders(const QJsonObject& o, QStringList& problems) {
  // Before the results shown are opened, so the list keeps its saved order and labels (a label depends on the
  // folders listed before it); folders already listed keep their place.
  for (const QJsonValue& v : o.value(QStringLiteral("runs")).toArray()) {
    const QString dir = v.toString();
    if (runFolders().contains(dir)) continue;
    try {
      addRunFolder(dir);
    } catch (const std::exception& e) {
      problems << QStringLiteral("view.runs: ") + QString::fromUtf8(e.what());
    }
  }
}

void ResultsArea::applySessionJson(const QJsonObject& o, QStringList& problems) {
  if (o.contains(QStringLiteral("runs_checked"))) {
    QStringList checked;
    for (const QJsonValue& v : o.value(QStringLiteral("runs_checked")).toArray()) checked << v.toString();
    for (const QString& label : runs_->runLabels()) runs_->setChecked(label, checked.contains(label));
  }
  runs_->setKey(o.value(QStringLiteral("runs_score")).toString());
  runs_->setDifferenceRuns(o.value(QStringLiteral("runs_a")).toString(), o.value(QStringLiteral("runs_b")).toString());
  applyWidgetValues({{QStringLiteral("size"), sizePreset_}, {QStringLiteral("colormap"), colormap_},
                     {QStringLiteral("twin_axes"), twinAxes_}, {QStringLiteral("ranks"), ranks_},
                     {QStringLiteral("export_selection"), exportSelection_}, {QStringLiteral("export_zoom"), exportZoom_}, {QStringLiteral("heatmap"), heatmapKind_}},
                    o, QStringLiteral("view"), problems);
  const QString profile = o.value(QStringLiteral("profile")).toString();
  if (!profile.isEmpty()) {
    const int i = profileMetric_->findText(profile);
    if (i >= 0) profileMetric_->setCurrentIndex(i);
    else if (profileMetric_->count() > 0) problems << QStringLiteral("view.profile: the results shown have no score '%1'").arg(profile);
  }
  const QString tab = o.value(QStringLiteral("tab")).toString();
  for (int i = 0; i < count(); ++i)
    if (tabText(i) == tab && isTabEnabled(i)) setCurrentIndex(i);
}

}  // namespace layerscope::app
