// views_tests, Items (main() is in views_test.cpp): the item explorer's table model through
// QAbstractItemModelTester, its outcome / text filters and sorting, the comparison columns and statistics line,
// and the detail pane of a selected item.
#include <gtest/gtest.h>

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QLineEdit>
#include <QTableView>

#include "views/items_table_model.h"
#include "views/items_view.h"

using namespace layerscope;
using results::ItemRecord;

namespace {

// Six MC items with 3 choices; correct in A for even ids; B fixes item 1 and breaks item 2.
results::ItemSet itemsA() {
  results::ItemSet s;
  s.file = "a/items.jsonl";
  for (int i = 0; i < 6; ++i) {
    ItemRecord r;
    r.id = "it-" + std::to_string(i);
    r.correct = i % 2 == 0;
    r.prompt = "list: a" + std::to_string(i) + " b2 c3 d4 e5 f6 g7 h8 i9 j0 k1 l2 m3 n4 o5. " + std::to_string(i) + "th? A:";
    r.choices = {" a", " b", " c"};
    r.goldIndex = 0;
    r.gold = " a";
    r.loglik = {-1.0 - i, r.correct ? -3.0 : -0.5, -4.0};
    r.prediction = r.correct ? " a" : " b";
    r.scores["decision_position"] = 10 + i;
    s.items.push_back(r);
  }
  s.scoreKeys = {"decision_position"};
  return s;
}

results::ItemSet itemsB() {
  results::ItemSet s = itemsA();
  s.items[1].correct = true;
  s.items[1].prediction = " a";
  s.items[2].correct = false;
  s.items[2].prediction = " c";
  return s;
}

int column(const QAbstractItemModel& m, const QString& header) {
  for (int c = 0; c < m.columnCount(); ++c)
    if (m.headerData(c, Qt::Horizontal).toString() == header) return c;
  return -1;
}

}  // namespace

TEST(Items, TableModelPassesTheTesterAndShowsEveryField) {
  views::ItemsTableModel model;
  QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
  model.setItems(itemsA());
  ASSERT_EQ(model.rowCount(), 6);
  for (const char* h : {"id", "prompt", "gold", "prediction", "correct", "margin", "LL 1", "LL 2", "LL 3", "decision_position"})
    EXPECT_GE(column(model, QString::fromLatin1(h)), 0) << h;
  const int prompt = column(model, QStringLiteral("prompt"));
  const QString shown = model.data(model.index(0, prompt)).toString();
  const QString full = model.data(model.index(0, prompt), Qt::ToolTipRole).toString();
  EXPECT_EQ(shown.size(), views::ItemsTableModel::kPromptChars);  // elided ...
  EXPECT_TRUE(shown.endsWith(QChar(0x2026)));
  EXPECT_EQ(full.toStdString(), itemsA().items[0].prompt);  // ... full text on hover
  // margin = LL(gold) - best other: item 0: -1 - (-3) = 2; item 1: -2 - (-0.5) = -1.5.
  const int margin = column(model, QStringLiteral("margin"));
  EXPECT_DOUBLE_EQ(model.data(model.index(0, margin), views::ItemsTableModel::kRawRole).toDouble(), 2.0);
  EXPECT_DOUBLE_EQ(model.data(model.index(1, margin), views::ItemsTableModel::kRawRole).toDouble(), -1.5);
  model.clear();
  EXPECT_EQ(model.rowCount(), 0);
}

TEST(Items, FiltersByOutcomeAndTextAndSortsByValue) {
  views::ItemsView view;
  view.setItems(itemsA());
  auto* proxy = view.table()->model();
  EXPECT_EQ(proxy->rowCount(), 6);
  view.outcomeFilter()->setCurrentIndex(view.outcomeFilter()->findText(QStringLiteral("incorrect")));
  EXPECT_EQ(proxy->rowCount(), 3);
  view.textFilter()->setText(QStringLiteral("IT-3"));  // case-insensitive, id
  EXPECT_EQ(proxy->rowCount(), 1);
  view.textFilter()->setText(QStringLiteral("a4 b2"));  // prompt text
  EXPECT_EQ(proxy->rowCount(), 0);  // item 4 is correct, hidden by the outcome filter
  view.outcomeFilter()->setCurrentIndex(0);
  EXPECT_EQ(proxy->rowCount(), 1);
  view.textFilter()->clear();
  const int ll1 = column(*proxy, QStringLiteral("LL 1"));
  view.table()->sortByColumn(ll1, Qt::AscendingOrder);  // -6 .. -1: item 5 first
  EXPECT_EQ(proxy->data(proxy->index(0, 0)).toString(), QStringLiteral("it-5"));
  // No comparison: the flip filters are not offered.
  EXPECT_EQ(view.outcomeFilter()->count(), 3);
  EXPECT_NE(view.summaryText().indexOf(QStringLiteral("6 items, accuracy 50.0%")), -1) << view.summaryText().toStdString();
}

TEST(Items, ComparisonShowsFlipsAndTheStatistics) {
  views::ItemsView view;
  const auto a = itemsA(), b = itemsB();
  const auto c = results::compareItems(a.items, b.items, "base", "adapter");
  view.setComparison(a, b, c);
  auto* proxy = view.table()->model();
  const int change = column(*proxy, QStringLiteral("change"));
  ASSERT_GE(change, 0);
  EXPECT_GE(column(*proxy, QStringLiteral("prediction (adapter)")), 0);
  EXPECT_GE(column(*proxy, QStringLiteral("prediction (base)")), 0);
  EXPECT_EQ(view.model()->data(view.model()->index(1, change)).toString(), QStringLiteral("fixed"));
  EXPECT_EQ(view.model()->data(view.model()->index(2, change)).toString(), QStringLiteral("broken"));
  EXPECT_EQ(view.model()->data(view.model()->index(0, change)).toString(), QStringLiteral("same"));
  view.outcomeFilter()->setCurrentIndex(view.outcomeFilter()->findText(QStringLiteral("changed (fixed or broken)")));
  EXPECT_EQ(proxy->rowCount(), 2);
  view.outcomeFilter()->setCurrentIndex(3 + 1);  // fixed
  ASSERT_EQ(proxy->rowCount(), 1);
  EXPECT_EQ(proxy->data(proxy->index(0, 0)).toString(), QStringLiteral("it-1"));
  const QString s = view.summaryText();
  EXPECT_NE(s.indexOf(QStringLiteral("adapter vs base on 6 paired items")), -1) << s.toStdString();
  EXPECT_NE(s.indexOf(QStringLiteral("1 fixed, 1 broken")), -1) << s.toStdString();
  EXPECT_NE(s.indexOf(QStringLiteral("McNemar p = 1")), -1) << s.toStdString();
  // The selected item's details name both predictions and every choice with its log-likelihood.
  view.selectItem(1);
  const QString d = view.detailText();
  EXPECT_NE(d.indexOf(QStringLiteral("it-1")), -1) << d.toStdString();
  EXPECT_NE(d.indexOf(QStringLiteral("adapter: \" a\" (correct)")), -1) << d.toStdString();
  EXPECT_NE(d.indexOf(QStringLiteral("1. \" a\" LL -2 (gold)")), -1) << d.toStdString();
  EXPECT_NE(d.indexOf(QStringLiteral("no per-layer values per item")), -1);
}
