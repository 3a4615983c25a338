// Fuzz target: a GUI session file (*.lssession) through loadSession (app/gui/session.cpp, QtCore only).
// Property: an accepted session is written back and read again unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "app/gui/session.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  const auto path = fuzz::scratch() / "fuzz.lssession";
  const auto back = fuzz::scratch() / "back.lssession";
  fuzz::writeFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::guarded([&] {
    const app::Session s = app::loadSession(QString::fromStdString(path.string()));
    app::saveSession(s, QString::fromStdString(back.string()));
    const app::Session t = app::loadSession(QString::fromStdString(back.string()));
    if (t.modelDir != s.modelDir || t.adapterDir != s.adapterDir || t.taskFiles != s.taskFiles ||
        t.resultsDirs != s.resultsDirs || t.selection != s.selection || t.options != s.options)
      fuzz::finding("saveSession / loadSession round trip changed the session");
  });
  return 0;
}
