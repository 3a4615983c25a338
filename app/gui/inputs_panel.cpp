#include "app/gui/inputs_panel.h"

#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QTextBrowser>
#include <QtConcurrent/QtConcurrentRun>
#include <functional>

namespace layerscope::app {

InputsPanel::InputsPanel(QWidget* parent) : QGroupBox(tr("Model and task"), parent) {
  auto* form = new QFormLayout(this);
  auto pathRow = [&](QLineEdit*& edit, const QString& placeholder, std::function<void()> browse) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    edit = new QLineEdit;
    edit->setPlaceholderText(placeholder);
    auto* b = new QPushButton(tr("..."));
    b->setMaximumWidth(32);
    connect(b, &QPushButton::clicked, this, browse);
    h->addWidget(edit);
    h->addWidget(b);
    return row;
  };
  form->addRow(tr("Model"), pathRow(modelEdit_, tr("Hugging Face model folder"), [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open model folder"), modelEdit_->text());
    if (!d.isEmpty()) setModelDir(d);
  }));
  connect(modelEdit_, &QLineEdit::editingFinished, this, [this] { setModelDir(modelEdit_->text()); });
  form->addRow(tr("Adapter"), pathRow(adapterEdit_, tr("optional LS-LoRA / GARFA folder"), [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Open adapter folder"), adapterEdit_->text());
    if (!d.isEmpty()) setAdapterDir(d);
  }));
  taskList_ = new QListWidget;
  taskList_->setMaximumHeight(110);
  taskList_->setSelectionMode(QAbstractItemView::SingleSelection);
  // The selection stays as visible when the list loses focus (the inactive highlight is the active one).
  QPalette pal = taskList_->palette();
  pal.setColor(QPalette::Inactive, QPalette::Highlight, pal.color(QPalette::Active, QPalette::Highlight));
  pal.setColor(QPalette::Inactive, QPalette::HighlightedText, pal.color(QPalette::Active, QPalette::HighlightedText));
  taskList_->setPalette(pal);
  connect(taskList_, &QListWidget::currentItemChanged, this, [this] { onCurrentTaskChanged(); });
  selectedTask_ = new QLabel;
  selectedTask_->setWordWrap(true);
  selectedTask_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* taskButtons = new QWidget;
  auto* th = new QHBoxLayout(taskButtons);
  th->setContentsMargins(0, 0, 0, 0);
  auto* add = new QPushButton(tr("Add..."));
  auto* remove = new QPushButton(tr("Remove"));
  connect(add, &QPushButton::clicked, this, [this] {
    for (const QString& f : QFileDialog::getOpenFileNames(this, tr("Add task files"), {}, tr("Task files (*.jsonl);;All files (*)")))
      addTaskFile(f);
  });
  connect(remove, &QPushButton::clicked, this, [this] { delete taskList_->currentItem(); });
  th->addWidget(add);
  th->addWidget(remove);
  th->addStretch();
  form->addRow(tr("Tasks"), taskList_);
  form->addRow(QString(), taskButtons);
  form->addRow(tr("Analysed"), selectedTask_);
  onCurrentTaskChanged();
  summary_ = new QTextBrowser;
  summary_->setMinimumHeight(170);
  summary_->setHtml(tr("<i>Open a model folder to see its summary (read from config.json and the safetensors "
                       "headers; no weights are loaded).</i>"));
  form->addRow(summary_);

  connect(&summaryWatcher_, &QFutureWatcher<ModelSummary>::finished, this, [this] {
    const ModelSummary s = summaryWatcher_.result();
    if (s.dir != modelEdit_->text()) return;  // a newer folder was chosen meanwhile
    summary_->setHtml(s.error.isEmpty() ? s.html
                                        : tr("<p style='color:#b00'><b>Not a loadable model.</b></p><p>%1</p>").arg(s.error.toHtmlEscaped()));
    Q_EMIT summaryReady();
  });
}

void InputsPanel::setModelDir(const QString& dir) {
  modelEdit_->setText(dir);
  Q_EMIT modelDirChanged(dir);
  if (dir.isEmpty()) return;
  summary_->setHtml(tr("<i>Reading %1 ...</i>").arg(dir.toHtmlEscaped()));
  // Stateless and cheap, but file I/O: off the GUI thread.
  summaryWatcher_.setFuture(QtConcurrent::run(summariseModel, dir));
}

QString InputsPanel::modelDir() const { return modelEdit_->text(); }
void InputsPanel::setAdapterDir(const QString& dir) { adapterEdit_->setText(dir); }
QString InputsPanel::adapterDir() const { return adapterEdit_->text(); }

void InputsPanel::addTaskFile(const QString& file) {
  if (file.isEmpty() || taskFiles().contains(file)) return;
  auto* item = new QListWidgetItem(QFileInfo(file).fileName());
  item->setData(Qt::UserRole, file);
  item->setToolTip(QDir::toNativeSeparators(file));
  taskList_->addItem(item);
  taskList_->setCurrentItem(item);
  Q_EMIT taskAdded(file);
}

bool InputsPanel::selectTask(const QString& file) {
  for (int i = 0; i < taskList_->count(); ++i)
    if (taskList_->item(i)->data(Qt::UserRole).toString() == file) {
      taskList_->setCurrentRow(i);
      taskList_->scrollToItem(taskList_->item(i));
      return true;
    }
  return false;
}

void InputsPanel::clearTasks() { taskList_->clear(); }

QStringList InputsPanel::taskFiles() const {
  QStringList out;
  for (int i = 0; i < taskList_->count(); ++i) out << taskList_->item(i)->data(Qt::UserRole).toString();
  return out;
}

QString InputsPanel::currentTask() const {
  const QListWidgetItem* it = taskList_->currentItem();
  return it ? it->data(Qt::UserRole).toString() : QString();
}

void InputsPanel::onCurrentTaskChanged() {
  // The analysed task in bold, the others plain; its name (and folder) under the list.
  const QListWidgetItem* current = taskList_->currentItem();
  for (int i = 0; i < taskList_->count(); ++i) {
    QListWidgetItem* it = taskList_->item(i);
    QFont f = it->font();
    f.setBold(it == current);
    it->setFont(f);
  }
  if (!current) {
    selectedTask_->setText(tr("<i>no task selected</i>"));
    return;
  }
  const QFileInfo fi(current->data(Qt::UserRole).toString());
  selectedTask_->setText(tr("<b>%1</b>").arg(fi.fileName().toHtmlEscaped()));
  selectedTask_->setToolTip(QDir::toNativeSeparators(fi.filePath()));
}

}  // namespace layerscope::app
