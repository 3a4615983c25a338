// make-tasks: generates the demo task suite (core/data/task_suite.h) into a directory: one JSONL file per family and
// form plus manifest.json. Same arguments, same bytes.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "core/base/error.h"
#include "core/data/task_suite.h"

namespace layerscope::app {
namespace {

int runMakeTasks(Args& args) {
  using namespace layerscope::core;
  SuiteRequest req;
  req.suite = args.valueOr("--suite", "demo");
  const long long n = args.intOr("--n", 200);
  const long long seed = args.intOr("--seed", 1234);
  const std::string out = args.required("--out");
  const auto families = args.value("--families");
  const auto forms = args.value("--forms");
  const auto knobs = args.value("--knobs");
  args.finish();
  if (knobs)
    for (const auto& kv : splitCommaList(*knobs)) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) throw InvalidArgument("option --knobs: expected NAME=LO-HI entries, got '" + kv + "'");
      setKnob(req.options, kv.substr(0, eq), kv.substr(eq + 1));
    }
  if (n < 1 || n > 1000000) throw InvalidArgument("option --n: expected 1..1000000 items per file, got " + std::to_string(n));
  if (seed < 0) throw InvalidArgument("option --seed: expected a non-negative integer, got " + std::to_string(seed));
  req.n = std::size_t(n);
  req.seed = std::uint64_t(seed);
  if (families)
    for (const auto& name : splitCommaList(*families)) req.families.push_back(taskFamilyFromName(name));
  if (forms)
    for (const auto& name : splitCommaList(*forms)) req.forms.push_back(taskKindFromName(name));

  const GeneratedSuite suite = generateSuite(req);
  writeSuite(suite, out);

  std::cout << "wrote " << suite.files.size() << " task files + manifest.json to " << out << " (suite " << req.suite
            << ", seed " << req.seed << ", " << req.n << " items each, generator v" << kTaskSuiteVersion << ")\n";
  for (const auto& f : suite.files)
    std::cout << "  " << std::left << std::setw(26) << f.fileName << " " << f.fingerprint.substr(0, 7 + 16) << "\n";
  return 0;
}

const CommandRegistrar kMakeTasks{Command{
    "make-tasks",
    "--out DIR [--suite demo] [--n 200] [--seed 1234] [--families kv_recall,...] [--forms mc,short,pairs] "
    "[--knobs string_length=4-8,kv_pairs=4-10,...]",
    "write the seeded synthetic task suite as JSONL (one file per family and form) plus manifest.json",
    runMakeTasks}};

}  // namespace
}  // namespace layerscope::app
