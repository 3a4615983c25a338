// The byte-level tokenizer of LayerScope's own models (the demo model organism and test checkpoints):
// one token per UTF-8 byte (ids 0-255) plus <|bos|> 256, <|eos|> 257, <|pad|> 258, written as a standard
// Hugging Face tokenizer.json (ByteLevel BPE without merges) so the regular tokenizer path loads it.
#pragma once

#include <filesystem>

namespace layerscope::core {

inline constexpr int kByteVocabSize = 259;
inline constexpr int kByteBos = 256, kByteEos = 257, kBytePad = 258;

/// Writes tokenizer.json and tokenizer_config.json into `dir` (atomically each).
void writeByteLevelTokenizer(const std::filesystem::path& dir);

}  // namespace layerscope::core
