// PCRE2 wrapper (see tokenizer_regex.h). Match data and the JIT stack are per thread, so a const Regex is
// safe to share between threads.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/text/tokenizer_regex.h"

#include <pcre2.h>

#include "core/base/error.h"

namespace layerscope::core::tokenizer_detail {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
};

namespace {

struct ThreadState {
  pcre2_match_data* data = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  ThreadState() {
    data = pcre2_match_data_create(16, nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

ThreadState& threadState() {
  thread_local ThreadState state;
  return state;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()), where_(where) {
  const std::string p = literal ? escape(pattern) : pattern;
  int err = 0;
  PCRE2_SIZE off = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), PCRE2_UTF | PCRE2_UCP, &err, &off,
                              nullptr);
  if (!code_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw TokenizerError(where + ": regex pattern '" + pattern + "' does not compile at offset " +
                         std::to_string(off) + ": " + reinterpret_cast<const char*>(msg));
  }
  code_->jit = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (code_ && code_->code) pcre2_code_free(code_->code);
}

bool Regex::nextMatch(std::string_view text, size_t from, size_t& start, size_t& end) const {
  ThreadState& ts = threadState();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = code_->jit ? pcre2_jit_match(code_->code, subject, text.size(), from, 0, ts.data, ts.context)
                      : pcre2_match(code_->code, subject, text.size(), from, PCRE2_NO_UTF_CHECK, ts.data, ts.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    throw TokenizerError(where_ + ": regex match failed: " + reinterpret_cast<const char*>(msg));
  }
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.data);
  start = ov[0];
  end = ov[1];
  return true;
}

}  // namespace layerscope::core::tokenizer_detail
