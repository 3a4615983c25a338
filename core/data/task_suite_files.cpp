// Whole demo task suites (see task_suite.h, docs/tasks.md): task knobs from the command line, the eval files of
// every family and form with their manifest, and writing a suite directory (manifest last, so a directory with a
// manifest is complete).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/data/task_suite.h"

namespace layerscope::core {

void setKnob(TaskSuiteOptions& o, std::string_view name, std::string_view value) {
  auto fail = [&](const std::string& why) {
    throw InvalidArgument("task knob '" + std::string(name) + "=" + std::string(value) + "': " + why);
  };
  auto number = [&](std::string_view t) {
    int v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size()) fail("expected an integer or LO-HI");
    return v;
  };
  const auto dash = value.find('-');
  IntRange r;
  r.lo = number(value.substr(0, dash));
  r.hi = dash == std::string_view::npos ? r.lo : number(value.substr(dash + 1));
  if (r.hi < r.lo) fail("HI is below LO");
  if (name == "kv_pairs") o.kvPairs = r;
  else if (name == "list_length") o.listLength = r;
  else if (name == "order_length") o.orderLength = r;
  else if (name == "string_length") o.stringLength = r;
  else if (name == "add_digits") o.addDigits = r;
  else if (name == "long_order_length") o.longOrderLength = r;
  else if (name == "num_choices" && dash == std::string_view::npos) o.numChoices = r.lo;
  else fail("unknown knob (expected kv_pairs, list_length, order_length, string_length, add_digits, "
            "long_order_length or num_choices)");
  validateOptions(o);
}

GeneratedSuite generateSuite(const SuiteRequest& request) {
  if (request.suite != "demo")
    throw InvalidArgument("unknown task suite '" + request.suite + "' (expected: demo)");
  if (request.n == 0) throw InvalidArgument("make-tasks: --n must be at least 1");
  validateOptions(request.options);
  std::vector<TaskFamily> families = request.families;
  if (families.empty())
    for (const auto& f : taskFamilies()) families.push_back(f.family);
  std::vector<TaskKind> forms = request.forms;
  if (forms.empty()) forms = {TaskKind::MultipleChoice, TaskKind::ShortAnswer, TaskKind::Pairs};

  const TaskSuiteOptions& o = request.options;
  auto range = [](IntRange r) { return nlohmann::ordered_json::array({r.lo, r.hi}); };
  nlohmann::ordered_json manifest;
  manifest["generator"] = "layerscope task_suite";
  manifest["generator_version"] = kTaskSuiteVersion;
  manifest["suite"] = request.suite;
  manifest["seed"] = request.seed;
  manifest["n"] = request.n;
  manifest["options"] = {{"kv_pairs", range(o.kvPairs)},           {"list_length", range(o.listLength)},
                         {"order_length", range(o.orderLength)},   {"string_length", range(o.stringLength)},
                         {"add_digits", range(o.addDigits)},       {"long_order_length", range(o.longOrderLength)},
                         {"num_choices", o.numChoices}};
  manifest["split"] =
      "FNV-1a 64 of the prompt bytes mod 20: 0 eval, 1 held-out training text, 2..19 training text; eval "
      "prompts are distinct within a family";
  manifest["scoring"] = {{"mc", "continuation log-likelihood of each choice after the prompt; acc, acc_norm"},
                         {"short", "greedy decoding to a newline, exact match after trimming spaces"},
                         {"pairs", "correct and incorrect completions teacher-forced after the prompt"}};

  GeneratedSuite out;
  nlohmann::ordered_json familiesJson = nlohmann::ordered_json::array();
  for (TaskFamily family : families) {
    const FamilyInfo& info = familyInfo(family);
    const std::vector<TaskInstance> instances = generateEvalInstances(family, request.seed, request.n, o);
    std::size_t minBytes = SIZE_MAX, maxBytes = 0, sumBytes = 0;
    for (const auto& i : instances) {
      minBytes = std::min(minBytes, i.prompt.size());
      maxBytes = std::max(maxBytes, i.prompt.size());
      sumBytes += i.prompt.size();
    }
    const std::size_t numChoices = instances.front().choices.size();
    nlohmann::ordered_json fj;
    fj["name"] = info.name;
    fj["skill"] = info.skill;
    fj["long_context"] = info.longContext;
    fj["num_choices"] = numChoices;
    // Chance accuracy in percent, rounded to 0.1, for the 40-95% / chance+15 targets of the demo model.
    fj["chance_mc_pct"] = std::round(1000.0 / double(numChoices)) / 10.0;
    fj["prompt_bytes"] = {{"min", minBytes},
                          {"mean", std::round(10.0 * double(sumBytes) / double(instances.size())) / 10.0},
                          {"max", maxBytes}};
    nlohmann::ordered_json files = nlohmann::ordered_json::object();
    for (TaskKind form : forms) {
      SuiteFile f{family, form, std::string(info.name) + "." + std::string(taskKindName(form)) + ".jsonl", {}, {}};
      f.contents = toJsonl(instancesToTask(instances, family, form));
      f.fingerprint = contentFingerprint(f.contents);
      files[std::string(taskKindName(form))] = {{"file", f.fileName}, {"fingerprint", f.fingerprint}};
      out.files.push_back(std::move(f));
    }
    fj["files"] = files;
    familiesJson.push_back(fj);
  }
  manifest["families"] = familiesJson;
  out.manifest = manifest.dump(2) + "\n";
  return out;
}

void writeSuite(const GeneratedSuite& suite, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create output directory '" + dir.string() + "': " + ec.message());
  for (const auto& f : suite.files) writeFileAtomically(dir / f.fileName, f.contents);
  // Last, so a directory with a manifest is a complete suite.
  writeFileAtomically(dir / "manifest.json", suite.manifest);
}

}  // namespace layerscope::core
