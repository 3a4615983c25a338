// Task files: JSONL, one item per line, in three kinds (docs/tasks.md): multiple choice, short answer and
// pairs (docs/methods.md section 2). Readers detect the kind, validate every line and refuse the whole file with a
// DatasetError naming file and line on the first bad item; they never skip. Torch-free.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace layerscope::core {

/// The three item formats of a task file.
enum class TaskKind { MultipleChoice, ShortAnswer, Pairs };

/// "mc", "short", "pairs" (also the form part of generated file names).
std::string_view taskKindName(TaskKind kind);
/// Inverse of taskKindName; throws InvalidArgument on an unknown name.
TaskKind taskKindFromName(std::string_view name);

/// `{"id", "prompt", "choices": [...], "answer": index}`; scored by continuation log-likelihood of each
/// choice after the prompt (docs/methods.md section 9), so choices normally start with a space.
struct McItem {
  std::string id;                    ///< unique within the file
  std::string prompt;                ///< context; the decision token is its last token
  std::vector<std::string> choices;  ///< >= 2, non-empty, distinct
  std::size_t answer = 0;            ///< index of the gold choice
  bool operator==(const McItem&) const = default;
};

/// `{"id", "prompt", "target"}`; scored by greedy decoding to a newline and normalised exact match.
struct ShortItem {
  std::string id;
  std::string prompt;
  std::string target;  ///< gold continuation (non-empty)
  bool operator==(const ShortItem&) const = default;
};

/// `{"id", "prompt", "correct", "incorrect"}`; both completions teacher-forced after the same prompt.
struct PairItem {
  std::string id;
  std::string prompt;
  std::string correct;    ///< gold completion
  std::string incorrect;  ///< a plausible wrong completion, different from `correct`
  bool operator==(const PairItem&) const = default;
};

/// A task: the items of one file, all of one kind.
struct Task {
  using Items = std::variant<std::vector<McItem>, std::vector<ShortItem>, std::vector<PairItem>>;

  std::string name;    ///< file name without ".jsonl" ("kv_recall.mc"), or what the caller set
  Items items;         ///< the alternative in use is the kind
  std::string source;  ///< file it was read from ("" when built in memory)
  std::string fingerprint;  ///< contentFingerprint() of the file bytes when read or written, else ""

  TaskKind kind() const { return static_cast<TaskKind>(items.index()); }
  std::size_t size() const;
  /// The items as one kind; throws InvalidArgument naming the task and its actual kind on a mismatch.
  const std::vector<McItem>& mc() const;
  const std::vector<ShortItem>& shortAnswer() const;
  const std::vector<PairItem>& pairs() const;
};

/// Reads and validates a JSONL task file (kind detected from the fields of the first item).
/// Throws DatasetError "<file>:<line>: ..." on: unreadable or empty file, invalid JSON, a line that is
/// not an object, missing field, wrong type, empty string, answer index out of range, fewer than 2 choices,
/// duplicate choice, duplicate id, a line whose kind differs from the first line's. Whitespace-only lines
/// are allowed and ignored; fields other than the documented ones are ignored.
Task readTask(const std::filesystem::path& path);

/// Same, with the expected kind checked (DatasetError naming the file when it differs).
Task readTask(const std::filesystem::path& path, TaskKind expected);

/// Parses JSONL text; `sourceName` is used in error messages and as Task::source.
Task parseTask(std::string_view text, const std::string& sourceName);

/// Serialises a task to JSONL (fields in the documented order, UTF-8 unescaped, '\n' after every line).
/// Validates first (same rules as the reader) and throws DatasetError naming the item on a bad one.
std::string toJsonl(const Task& task);

/// Writes toJsonl(task) atomically (temporary file + rename) and returns its content fingerprint.
std::string writeTask(const std::filesystem::path& path, const Task& task);

/// "sha256:<64 lowercase hex>" of the bytes: what results record to identify the exact task file
/// (checkable with `sha256sum`).
std::string contentFingerprint(std::string_view bytes);

/// contentFingerprint of a file's bytes; throws DatasetError when it cannot be read.
std::string fileFingerprint(const std::filesystem::path& path);

/// Lowercase hex SHA-256 (FIPS 180-4) of the bytes.
std::string sha256Hex(std::string_view bytes);

}  // namespace layerscope::core
