// The torch-free half of safetensors reading: the file's byte layout (8-byte little-endian header length N, N
// bytes of UTF-8 JSON, then the tensor bytes), header validation like the reference implementation, and the
// model.safetensors.index.json of sharded checkpoints. Kept free of LibTorch so the fuzz targets and the
// sanitizer build (fuzz/, docs/fuzzing.md) compile it without LibTorch: never include torch here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace layerscope::core {

/// Element types safetensors knows. Only F32, F16 and BF16 become model weights.
enum class StDtype { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E5M2, F8_E4M3 };

std::string dtypeName(StDtype d);
size_t dtypeSize(StDtype d);

/// One tensor's header entry; offsets are relative to the start of the data section.
struct StEntry {
  StDtype dtype = StDtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

/// Parses and validates a header (exposed for tests). `dataSize` is the byte count after the header. Throws
/// CheckpointError naming `source` and the problem, including a key that appears twice in one JSON object
/// (the reference implementation refuses those: a JSON parser would silently keep one of them).
void parseSafetensorsHeader(const std::string& headerJson, uint64_t dataSize, const std::string& source,
                            std::map<std::string, StEntry>& entries, std::map<std::string, std::string>& metadata);

/// The header length N from a file's first 8 bytes, checked against the 100 MB bound and the file's `size`.
/// Throws CheckpointError naming `source`.
uint64_t safetensorsHeaderLength(const uint8_t* first8, uint64_t size, const std::string& source);

/// Validates a whole file's bytes (`size` of them at `bytes`): the length prefix, the header bound (100 MB), the
/// header itself and the data section. Returns the data section's offset (8 + N). Throws CheckpointError.
uint64_t parseSafetensorsBytes(const uint8_t* bytes, uint64_t size, const std::string& source,
                               std::map<std::string, StEntry>& entries, std::map<std::string, std::string>& metadata);

/// "[4096, 14336]": a shape as error messages print it.
std::string shapeText(const std::vector<int64_t>& shape);

/// model.safetensors.index.json: which shard holds which tensor.
struct SafetensorsIndex {
  std::map<std::string, std::string> shardOf;  ///< tensor name -> shard file name
  std::vector<std::string> shards;             ///< shard file names, first-seen order, each once
};

/// Parses an index file's text. Shard names must be plain file names (no separator, no '..', no NUL), so a file
/// the user did not write cannot reach outside the model folder. Throws CheckpointError naming `source`.
SafetensorsIndex parseSafetensorsIndex(const std::string& text, const std::string& source);

}  // namespace layerscope::core
