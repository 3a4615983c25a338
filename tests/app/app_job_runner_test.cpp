// app_tests, the GUI's one JobRunner on its worker thread: exactly one outcome per job (finished with the body's
// value, failed with the exception's message, cancelled), posted values delivered in order before the outcome,
// progress throttled to ~10 Hz with the final fraction kept, one job at a time (busyChanged), a cancel right
// after start, and the base model kept between jobs for the same folder and dtype (experiments::modelFor).
#include <gtest/gtest.h>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <chrono>
#include <thread>

#include "app/gui/job_runner.h"
#include "core/base/error.h"
#include "experiments/common.h"
#include "tests/app/tiny_setup.h"

using namespace layerscope;

namespace {

struct Outcomes {
  explicit Outcomes(app::Job* job)
      : finished(job, &app::Job::finished), cancelled(job, &app::Job::cancelled), failed(job, &app::Job::failed),
        progress(job, &app::Job::progress), data(job, &app::Job::data) {}
  int count() const { return int(finished.count() + cancelled.count() + failed.count()); }
  bool wait(int ms = 60000) {
    return QTest::qWaitFor([&] { return count() > 0; }, ms);
  }
  QSignalSpy finished, cancelled, failed, progress, data;
};

}  // namespace

// Nested stages "step: detail": the first report of every step is sent at once, however soon after the previous one
// (a fast step must still reach the reproduce dialog's tree); the reports within a step stay throttled.
TEST(JobRunner, EveryStepReachesTheGuiWhileReportsWithinAStepAreThrottled) {
  app::JobRunner runner;
  constexpr int kReports = 2000;
  std::atomic<qint64> bodyMs{0};
  app::Job* job = runner.start(QStringLiteral("steps"), [&bodyMs](app::JobContext& ctx) {
    QElapsedTimer t;
    t.start();
    int done = 0;
    for (const char* step : {"alpha", "beta", "gamma", "delta"})
      for (int i = 1; i <= kReports / 4; ++i)
        core::reportProgress(ctx.control(), {std::string(step) + ": item " + std::to_string(i), double(++done),
                                             double(kReports) + 1});
    bodyMs = t.elapsed();
    return QVariant();
  });
  ASSERT_NE(job, nullptr);
  Outcomes o(job);
  ASSERT_TRUE(o.wait());
  QStringList steps;
  for (const auto& signal : o.progress) {
    const QString step = signal.at(0).toString().section(QStringLiteral(": "), 0, 0);
    if (steps.isEmpty() || steps.last() != step) steps << step;
  }
  EXPECT_EQ(steps.join(QLatin1Char(',')), QStringLiteral("alpha,beta,gamma,delta"));
  EXPECT_LE(o.progress.count(), bodyMs.load() / 100 + 1 + 4);  // the interval's, plus one forced per step
  EXPECT_LT(o.progress.count(), kReports / 10);
}

TEST(JobRunner, FinishesOnceWithDataInOrderAndThrottledProgress) {
  app::JobRunner runner;
  QSignalSpy busy(&runner, &app::JobRunner::busyChanged);
  constexpr int kReports = 2000;
  std::atomic<qint64> bodyMs{0};
  app::Job* job = runner.start(QStringLiteral("test"), [&bodyMs](app::JobContext& ctx) {
    QElapsedTimer t;
    t.start();
    for (int i = 1; i <= kReports; ++i) {
      ctx.post(i);
      core::reportProgress(ctx.control(), {"step " + std::to_string(i), double(i), double(kReports)});
    }
    bodyMs = t.elapsed();
    return QVariant(QStringLiteral("done"));
  });
  ASSERT_NE(job, nullptr);
  EXPECT_TRUE(runner.isBusy());
  EXPECT_EQ(runner.start(QStringLiteral("second"), [](app::JobContext&) { return QVariant(); }), nullptr);
  Outcomes o(job);
  ASSERT_TRUE(o.wait());
  QTest::qWait(50);  // nothing may follow the outcome
  EXPECT_EQ(o.count(), 1);
  ASSERT_EQ(o.finished.count(), 1);
  EXPECT_EQ(o.finished.first().first().toString(), QStringLiteral("done"));
  // Every posted value, in order.
  QVariantList all;
  for (const auto& signal : o.data) all += signal.first().toList();
  ASSERT_EQ(all.size(), kReports);
  for (int i = 0; i < kReports; ++i) ASSERT_EQ(all[i].toInt(), i + 1);
  // At most one signal per 100 ms of the body plus the first and the final one (100%, always sent).
  ASSERT_GE(o.progress.count(), 1);
  EXPECT_LE(o.progress.count(), bodyMs.load() / 100 + 2);
  EXPECT_LT(o.progress.count(), kReports / 10);
  EXPECT_EQ(o.progress.last().at(0).toString(), QStringLiteral("step 2000"));
  EXPECT_DOUBLE_EQ(o.progress.last().at(1).toDouble(), 1.0);
  EXPECT_FALSE(runner.isBusy());
  ASSERT_EQ(busy.count(), 2);
  EXPECT_TRUE(busy.at(0).first().toBool());
  EXPECT_FALSE(busy.at(1).first().toBool());
}

TEST(JobRunner, ExceptionBecomesFailedAndTheNextJobRuns) {
  app::JobRunner runner;
  app::Job* job = runner.start(QStringLiteral("fails"), [](app::JobContext&) -> QVariant {
    throw InvalidArgument("bad option --x: expected 1, found 2");
  });
  Outcomes o(job);
  ASSERT_TRUE(o.wait());
  ASSERT_EQ(o.failed.count(), 1);
  EXPECT_EQ(o.count(), 1);
  EXPECT_EQ(o.failed.first().first().toString(), QStringLiteral("bad option --x: expected 1, found 2"));
  app::Job* next = runner.start(QStringLiteral("next"), [](app::JobContext&) { return QVariant(7); });
  ASSERT_NE(next, nullptr);
  Outcomes o2(next);
  ASSERT_TRUE(o2.wait());
  ASSERT_EQ(o2.finished.count(), 1);
  EXPECT_EQ(o2.finished.first().first().toInt(), 7);
}

TEST(JobRunner, CancelStopsARunningJobAndAJobCancelledAtStart) {
  app::JobRunner runner;
  std::atomic<bool> started{false};
  app::Job* job = runner.start(QStringLiteral("long"), [&started](app::JobContext& ctx) -> QVariant {
    started = true;
    for (;;) {  // a job that only ends when cancelled
      core::reportProgress(ctx.control(), {"working", 0.5, 1.0});
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  Outcomes o(job);
  ASSERT_TRUE(QTest::qWaitFor([&] { return started.load(); }, 60000));
  EXPECT_FALSE(job->cancelRequested());
  runner.cancel();
  EXPECT_TRUE(job->cancelRequested());
  ASSERT_TRUE(o.wait());
  EXPECT_EQ(o.cancelled.count(), 1);
  EXPECT_EQ(o.count(), 1);

  // Cancelled in the same GUI-thread turn as it was started: cancelled, never finished, whether or not the worker
  // had begun the body.
  app::Job* early = runner.start(QStringLiteral("early"), [](app::JobContext& ctx) {
    ctx.control()->checkCancelled();
    return QVariant(1);
  });
  ASSERT_NE(early, nullptr);
  early->cancel();
  Outcomes o2(early);
  ASSERT_TRUE(o2.wait());
  EXPECT_EQ(o2.cancelled.count(), 1);
  EXPECT_EQ(o2.count(), 1);
  EXPECT_FALSE(runner.isBusy());
}

TEST(JobRunner, KeepsTheModelForTheSameFolderAndDtype) {
  QTemporaryDir tmp;
  const QString model = tmp.filePath(QStringLiteral("tiny"));
  apptest::writeTinyModel(model, 9);
  app::JobRunner runner;
  // Each job returns the address of the model it got and whether it had to load one.
  auto run = [&](const QString& dtype) {
    app::Job* job = runner.start(QStringLiteral("model"), [model, dtype](app::JobContext& ctx) {
      return QVariant::fromValue(quintptr(ctx.model(model, dtype).model.get()));
    });
    Outcomes o(job);
    EXPECT_TRUE(o.wait());
    EXPECT_EQ(o.finished.count(), 1) << (o.failed.isEmpty() ? "" : o.failed.first().first().toString().toStdString());
    bool loaded = false;
    for (const auto& p : o.progress) loaded = loaded || p.at(0).toString().startsWith(QStringLiteral("Loading"));
    return std::make_pair(o.finished.isEmpty() ? quintptr(0) : o.finished.first().first().value<quintptr>(), loaded);
  };
  const auto first = run(QStringLiteral("float32"));
  const auto again = run(QStringLiteral("float32"));
  const auto bf16 = run(QStringLiteral("bfloat16"));
  EXPECT_NE(first.first, quintptr(0));
  EXPECT_TRUE(first.second);
  EXPECT_EQ(again.first, first.first);  // the same weights, not reloaded
  EXPECT_FALSE(again.second);
  EXPECT_TRUE(bf16.second);  // another dtype loads again
}
