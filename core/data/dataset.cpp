// JSONL task files: reading with per-line validation, writing, content fingerprints (see dataset.h).
#include "core/data/dataset.h"

#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/error.h"

namespace layerscope::core {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> kKindNames = {"mc", "short", "pairs"};
constexpr std::array<std::string_view, 3> kKindLabels = {"multiple choice", "short answer", "pairs"};

std::string_view kindLabel(TaskKind k) { return kKindLabels[static_cast<std::size_t>(k)]; }

/// A short rendering of a JSON value for "found ..." in messages.
std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  if (v.is_number_integer()) return "integer " + text;
  if (v.is_number_float()) return "number " + text;
  return std::string(v.type_name()) + " " + text;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw DatasetError(where + ": " + what); }

const json& field(const json& obj, const char* name, const char* expected, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(where, std::string("missing field \"") + name + "\" (expected " + expected + ")");
  return *it;
}

std::string stringField(const json& obj, const char* name, const std::string& where) {
  const json& v = field(obj, name, "a non-empty string", where);
  if (!v.is_string())
    fail(where, std::string("field \"") + name + "\": expected a non-empty string, found " + describe(v));
  std::string s = v.get<std::string>();
  if (s.empty()) fail(where, std::string("field \"") + name + "\": expected a non-empty string, found \"\"");
  return s;
}

// --- validation shared by reader and writer --------------------------------------------------------------

void validate(const McItem& it, const std::string& where) {
  if (it.id.empty()) fail(where, "field \"id\": expected a non-empty string, found \"\"");
  if (it.prompt.empty()) fail(where, "field \"prompt\": expected a non-empty string, found \"\"");
  if (it.choices.size() < 2)
    fail(where, "field \"choices\": expected at least 2 choices, found " + std::to_string(it.choices.size()));
  for (std::size_t i = 0; i < it.choices.size(); ++i) {
    if (it.choices[i].empty())
      fail(where, "field \"choices\"[" + std::to_string(i) + "]: expected a non-empty string, found \"\"");
    for (std::size_t j = 0; j < i; ++j)
      if (it.choices[j] == it.choices[i])
        fail(where, "field \"choices\": choices " + std::to_string(j) + " and " + std::to_string(i) +
                        " are both \"" + it.choices[i] + "\" (expected distinct choices)");
  }
  if (it.answer >= it.choices.size())
    fail(where, "field \"answer\": expected an index into \"choices\" (0.." + std::to_string(it.choices.size() - 1) +
                    "), found " + std::to_string(it.answer));
}

void validate(const ShortItem& it, const std::string& where) {
  if (it.id.empty()) fail(where, "field \"id\": expected a non-empty string, found \"\"");
  if (it.prompt.empty()) fail(where, "field \"prompt\": expected a non-empty string, found \"\"");
  if (it.target.empty()) fail(where, "field \"target\": expected a non-empty string, found \"\"");
}

void validate(const PairItem& it, const std::string& where) {
  if (it.id.empty()) fail(where, "field \"id\": expected a non-empty string, found \"\"");
  if (it.prompt.empty()) fail(where, "field \"prompt\": expected a non-empty string, found \"\"");
  if (it.correct.empty()) fail(where, "field \"correct\": expected a non-empty string, found \"\"");
  if (it.incorrect.empty()) fail(where, "field \"incorrect\": expected a non-empty string, found \"\"");
  if (it.correct == it.incorrect)
    fail(where, "fields \"correct\" and \"incorrect\" are both \"" + it.correct + "\" (expected different completions)");
}

// --- parsing one object into an item ------------------------------------------------------------------

McItem parseMc(const json& obj, const std::string& where) {
  McItem it;
  it.id = stringField(obj, "id", where);
  it.prompt = stringField(obj, "prompt", where);
  const json& choices = field(obj, "choices", "an array of at least 2 strings", where);
  if (!choices.is_array())
    fail(where, "field \"choices\": expected an array of at least 2 strings, found " + describe(choices));
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (!choices[i].is_string())
      fail(where, "field \"choices\"[" + std::to_string(i) + "]: expected a string, found " + describe(choices[i]));
    it.choices.push_back(choices[i].get<std::string>());
  }
  if (it.choices.size() < 2)
    fail(where, "field \"choices\": expected at least 2 choices, found " + std::to_string(it.choices.size()));
  const json& answer = field(obj, "answer", "an integer index into \"choices\"", where);
  if (!answer.is_number_integer())
    fail(where, "field \"answer\": expected an integer index into \"choices\", found " + describe(answer));
  if (answer.is_number_unsigned() || answer.get<std::int64_t>() >= 0) {
    it.answer = answer.get<std::size_t>();
  } else {
    fail(where, "field \"answer\": expected an index into \"choices\" (0.." + std::to_string(it.choices.size() - 1) +
                    "), found " + answer.dump());
  }
  validate(it, where);
  return it;
}

ShortItem parseShort(const json& obj, const std::string& where) {
  ShortItem it;
  it.id = stringField(obj, "id", where);
  it.prompt = stringField(obj, "prompt", where);
  it.target = stringField(obj, "target", where);
  validate(it, where);
  return it;
}

PairItem parsePair(const json& obj, const std::string& where) {
  PairItem it;
  it.id = stringField(obj, "id", where);
  it.prompt = stringField(obj, "prompt", where);
  it.correct = stringField(obj, "correct", where);
  it.incorrect = stringField(obj, "incorrect", where);
  validate(it, where);
  return it;
}

TaskKind detectKind(const json& obj, const std::string& where) {
  const bool mc = obj.contains("choices") || obj.contains("answer");
  const bool sa = obj.contains("target");
  const bool pr = obj.contains("correct") || obj.contains("incorrect");
  const int count = int(mc) + int(sa) + int(pr);
  if (count == 1) return mc ? TaskKind::MultipleChoice : sa ? TaskKind::ShortAnswer : TaskKind::Pairs;
  std::string fields;
  for (auto it = obj.begin(); it != obj.end(); ++it) fields += (fields.empty() ? "" : ", ") + it.key();
  if (count == 0)
    fail(where, "cannot tell the item kind: expected \"choices\"+\"answer\" (multiple choice), \"target\" (short "
                "answer) or \"correct\"+\"incorrect\" (pairs), found fields {" + fields + "}");
  fail(where, "ambiguous item: fields of more than one kind {" + fields +
                  "} (expected exactly one of: choices+answer, target, correct+incorrect)");
}

std::string taskNameFromSource(const std::string& source) {
  std::string stem = std::filesystem::path(source).filename().string();
  const std::string ext = ".jsonl";
  if (stem.size() > ext.size() && stem.compare(stem.size() - ext.size(), ext.size(), ext) == 0)
    stem.resize(stem.size() - ext.size());
  return stem;
}

// --- SHA-256 (FIPS 180-4) -------------------------------------------------------------------------------

constexpr std::array<std::uint32_t, 64> kSha256K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256Block(std::array<std::uint32_t, 8>& h, const unsigned char* p) {
  std::array<std::uint32_t, 64> w{};
  for (int i = 0; i < 16; ++i)
    w[i] = (std::uint32_t(p[4 * i]) << 24) | (std::uint32_t(p[4 * i + 1]) << 16) | (std::uint32_t(p[4 * i + 2]) << 8) |
           std::uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
    const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

}  // namespace

std::string_view taskKindName(TaskKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

TaskKind taskKindFromName(std::string_view name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i)
    if (kKindNames[i] == name) return static_cast<TaskKind>(i);
  throw InvalidArgument("unknown task form '" + std::string(name) + "' (expected mc, short or pairs)");
}

std::size_t Task::size() const {
  return std::visit([](const auto& v) { return v.size(); }, items);
}

namespace {
template <class T>
const std::vector<T>& itemsAs(const Task& t, TaskKind want) {
  if (const auto* v = std::get_if<std::vector<T>>(&t.items)) return *v;
  throw InvalidArgument("task '" + t.name + "' is " + std::string(kindLabel(t.kind())) + ", expected " +
                        std::string(kindLabel(want)));
}
}  // namespace

const std::vector<McItem>& Task::mc() const { return itemsAs<McItem>(*this, TaskKind::MultipleChoice); }
const std::vector<ShortItem>& Task::shortAnswer() const { return itemsAs<ShortItem>(*this, TaskKind::ShortAnswer); }
const std::vector<PairItem>& Task::pairs() const { return itemsAs<PairItem>(*this, TaskKind::Pairs); }

Task parseTask(std::string_view text, const std::string& sourceName) {
  Task task;
  task.source = sourceName;
  task.name = taskNameFromSource(sourceName);
  task.fingerprint = contentFingerprint(text);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark

  bool haveKind = false;
  TaskKind kind = TaskKind::MultipleChoice;
  std::size_t firstLine = 0;
  std::map<std::string, std::size_t> idLines;
  std::size_t lineNo = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;

    const std::string where = sourceName + ":" + std::to_string(lineNo);
    json obj;
    try {
      obj = json::parse(line);
    } catch (const json::parse_error& e) {
      fail(where, "invalid JSON at column " + std::to_string(e.byte) + " (expected one JSON object per line): " +
                      e.what());
    } catch (const json::exception& e) {  // out_of_range.406: a number too large for a double (1e400)
      fail(where, std::string("invalid JSON (expected one JSON object per line): ") + e.what());
    }
    if (!obj.is_object()) fail(where, "expected a JSON object, found " + describe(obj));
    const TaskKind k = detectKind(obj, where);
    if (!haveKind) {
      kind = k;
      haveKind = true;
      firstLine = lineNo;
      if (k == TaskKind::MultipleChoice) task.items = std::vector<McItem>{};
      if (k == TaskKind::ShortAnswer) task.items = std::vector<ShortItem>{};
      if (k == TaskKind::Pairs) task.items = std::vector<PairItem>{};
    } else if (k != kind) {
      fail(where, "mixed kinds: expected a " + std::string(kindLabel(kind)) + " item like line " +
                      std::to_string(firstLine) + ", found a " + std::string(kindLabel(k)) +
                      " item (a task file holds one kind)");
    }
    std::string id;
    switch (k) {
      case TaskKind::MultipleChoice:
        std::get<0>(task.items).push_back(parseMc(obj, where));
        id = std::get<0>(task.items).back().id;
        break;
      case TaskKind::ShortAnswer:
        std::get<1>(task.items).push_back(parseShort(obj, where));
        id = std::get<1>(task.items).back().id;
        break;
      case TaskKind::Pairs:
        std::get<2>(task.items).push_back(parsePair(obj, where));
        id = std::get<2>(task.items).back().id;
        break;
    }
    auto [it, inserted] = idLines.emplace(id, lineNo);
    if (!inserted)
      fail(where, "duplicate id \"" + id + "\" (first used on line " + std::to_string(it->second) +
                      "; expected ids unique within a file)");
  }
  if (!haveKind)
    throw DatasetError(sourceName + ":" + std::to_string(lineNo) +
                       ": empty task file (expected at least one JSONL item, found none)");
  return task;
}

Task readTask(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError(path.string() + ": cannot open task file (does it exist and is it readable?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw DatasetError(path.string() + ": read error");
  return parseTask(ss.str(), path.string());
}

Task readTask(const std::filesystem::path& path, TaskKind expected) {
  Task t = readTask(path);
  if (t.kind() != expected)
    throw DatasetError(path.string() + ":1: expected a " + std::string(kindLabel(expected)) + " task file, found " +
                       std::string(kindLabel(t.kind())) + " items");
  return t;
}

std::string toJsonl(const Task& task) {
  std::string out;
  std::map<std::string, std::size_t> ids;
  const std::string name = task.name.empty() ? std::string("task") : task.name;
  auto emit = [&](const nlohmann::ordered_json& j) {
    out += j.dump(-1, ' ', false, json::error_handler_t::strict);
    out += '\n';
  };
  auto checkId = [&](const std::string& id, std::size_t index, const std::string& where) {
    auto [it, inserted] = ids.emplace(id, index);
    if (!inserted)
      fail(where, "duplicate id \"" + id + "\" (also item " + std::to_string(it->second) + ")");
  };
  auto whereOf = [&](std::size_t i, const std::string& id) {
    return name + " item " + std::to_string(i) + " (id \"" + id + "\")";
  };
  std::visit(
      [&](const auto& items) {
        using T = typename std::decay_t<decltype(items)>::value_type;
        for (std::size_t i = 0; i < items.size(); ++i) {
          const T& it = items[i];
          const std::string where = whereOf(i, it.id);
          validate(it, where);
          checkId(it.id, i, where);
          nlohmann::ordered_json j;
          j["id"] = it.id;
          j["prompt"] = it.prompt;
          if constexpr (std::is_same_v<T, McItem>) {
            j["choices"] = it.choices;
            j["answer"] = it.answer;
          } else if constexpr (std::is_same_v<T, ShortItem>) {
            j["target"] = it.target;
          } else {
            j["correct"] = it.correct;
            j["incorrect"] = it.incorrect;
          }
          try {
            emit(j);
          } catch (const json::exception& e) {
            fail(where, std::string("cannot serialise (strings must be valid UTF-8): ") + e.what());
          }
        }
      },
      task.items);
  if (out.empty()) throw DatasetError(name + ": refusing to write an empty task (expected at least one item)");
  return out;
}

std::string writeTask(const std::filesystem::path& path, const Task& task) {
  const std::string text = toJsonl(task);
  writeFileAtomically(path, text);
  return contentFingerprint(text);
}

std::string sha256Hex(std::string_view bytes) {
  std::array<std::uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  std::size_t off = 0;
  for (; off + 64 <= n; off += 64) sha256Block(h, data + off);
  // Final block(s): remaining bytes, 0x80, zero padding, 64-bit big-endian bit length.
  std::array<unsigned char, 128> tail{};
  const std::size_t rem = n - off;
  for (std::size_t i = 0; i < rem; ++i) tail[i] = data[off + i];
  tail[rem] = 0x80;
  const std::size_t tailLen = rem + 1 + 8 <= 64 ? 64 : 128;
  const std::uint64_t bits = std::uint64_t(n) * 8;
  for (int i = 0; i < 8; ++i) tail[tailLen - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  sha256Block(h, tail.data());
  if (tailLen == 128) sha256Block(h, tail.data() + 64);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint32_t v : h)
    for (int s = 28; s >= 0; s -= 4) out += kHex[(v >> s) & 0xF];
  return out;
}

std::string contentFingerprint(std::string_view bytes) { return "sha256:" + sha256Hex(bytes); }

std::string fileFingerprint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError(path.string() + ": cannot open file to fingerprint");
  std::ostringstream ss;
  ss << in.rdbuf();
  return contentFingerprint(ss.str());
}

}  // namespace layerscope::core
