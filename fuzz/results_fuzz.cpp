// Fuzz target: a results directory through readResultsDir (results/reader.h). The input holds the files as
// sections (fuzz_util.h): "@@ scores.json", "@@ stats.json", "@@ layers.csv", "@@ manipulation.json",
// "@@ drop.json", "@@ report.json"; only these names are written, into a scratch directory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "results/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  static const char* kFiles[] = {"scores.json", "stats.json", "layers.csv", "manipulation.json", "drop.json", "report.json"};
  const auto dir = fuzz::scratch() / "results";
  std::filesystem::create_directories(dir);
  auto parts = fuzz::sections(std::string_view(reinterpret_cast<const char*>(data), size), "");
  for (const char* name : kFiles) {
    std::error_code ec;
    std::filesystem::remove(dir / name, ec);
    if (auto it = parts.find(name); it != parts.end()) fuzz::writeFile(dir / name, it->second);
  }
  fuzz::guarded([&] {
    results::ResultsBundle b = results::readResultsDir(dir);
    results::ResultsBundle other = b;
    results::mergeInto(b, other);
  });
  return 0;
}
