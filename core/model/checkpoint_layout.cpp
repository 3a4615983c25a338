// Checkpoint directory validation from the files' headers, torch-free (see checkpoint_layout.h).
#include "core/model/checkpoint_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "core/base/error.h"
#include "core/model/names.h"

namespace layerscope::core {
namespace fs = std::filesystem;

SafetensorsHeader readSafetensorsHeader(const fs::path& path) {
  const std::string src = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CheckpointError(src + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw CheckpointError(src + ": not a regular file");
  SafetensorsHeader h;
  h.path = path;
  h.fileSize = uint64_t(st.st_size);
  auto readAt = [&](void* buf, uint64_t n, uint64_t offset) {
    for (uint64_t done = 0; done < n;) {
      const ssize_t got = ::pread(fd, static_cast<char*>(buf) + done, n - done, off_t(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw CheckpointError(src + ": cannot read the header" + (got < 0 ? std::string(": ") + std::strerror(errno) : std::string(" (file shrank)")));
      done += uint64_t(got);
    }
  };
  uint8_t prefix[8] = {};
  if (h.fileSize >= 8) readAt(prefix, 8, 0);
  const uint64_t n = safetensorsHeaderLength(prefix, h.fileSize, src);
  std::string json(n, '\0');
  readAt(json.data(), n, 8);
  parseSafetensorsHeader(json, h.fileSize - 8 - n, src, h.entries, h.metadata);
  return h;
}

namespace {

// Shard file names come from a JSON file the user may not have written: never let them escape the directory.
// model.safetensors.index.json holds a name -> file map: tens of kilobytes for an 8B model, a few MB at most.
constexpr uintmax_t kMaxIndexBytes = uintmax_t(100) << 20;

bool isInside(const fs::path& file, const fs::path& folder) {
  auto f = file.begin();
  for (auto d = folder.begin(); d != folder.end(); ++d, ++f)
    if (f == file.end() || *f != *d) return false;
  return f != file.end();
}

// The symbolic-link rule (docs/hardening.md): a file of the model folder may be a link only when it resolves
// inside the folder, or, for a Hugging Face cache snapshot (<repo>/snapshots/<revision>/), inside that cache
// repo's <repo>/blobs/. Anything else (a link to /etc/..., to another model, to another cache repo) is refused,
// so a downloaded folder cannot make LayerScope read files its user did not point it at.
void checkLinkRule(const fs::path& file, const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(file, ec))) return;
  const fs::path target = fs::weakly_canonical(file, ec);
  if (ec) throw CheckpointError(file.string() + ": cannot resolve the symbolic link (" + ec.message() + ")");
  const fs::path home = fs::canonical(dir);
  if (isInside(target, home)) return;
  const fs::path snapshots = home.parent_path();
  if (snapshots.filename() == "snapshots" && isInside(target, snapshots.parent_path() / "blobs")) return;
  throw CheckpointError(file.string() + ": symbolic link to '" + target.string() +
                        "' leads outside the model folder (allowed: links inside the folder, or into ../../blobs of a "
                        "Hugging Face cache snapshot); copy the file into the folder instead");
}

// Sizes in config.json against the tensors actually present, before anything is built from them: a config that
// claims more layers than the files hold, or an embedding of another size, is named by its field.
void checkConfigAgainstTensors(const ModelConfig& c, const fs::path& configFile,
                               const std::map<std::string, std::vector<int64_t>>& shapes) {
  int present = 0;
  const std::string prefix = "model.layers.";
  for (const auto& [name, shape] : shapes) {
    if (name.rfind(prefix, 0) != 0) continue;
    const size_t dot = name.find('.', prefix.size());
    const std::string idx = name.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
    if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    present = std::max(present, std::stoi(idx) + 1);
  }
  if (c.numLayers > present)
    throw ConfigError(configFile.string() + ": field 'num_hidden_layers' = " + std::to_string(c.numLayers) +
                      ", but the weights hold " + std::to_string(present) + " layers");
  auto it = shapes.find(kHfEmbed);
  if (it != shapes.end() && it->second.size() == 2) {
    if (it->second[0] != c.vocabSize)
      throw ConfigError(configFile.string() + ": field 'vocab_size' = " + std::to_string(c.vocabSize) + ", but " +
                        kHfEmbed + " has " + std::to_string(it->second[0]) + " rows");
    if (it->second[1] != c.hiddenSize)
      throw ConfigError(configFile.string() + ": field 'hidden_size' = " + std::to_string(c.hiddenSize) + ", but " +
                        kHfEmbed + " has " + std::to_string(it->second[1]) + " columns");
  }
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> CheckpointLayout::expectedTensors(const ModelConfig& c) {
  const int64_t D = c.hiddenSize, F = c.intermediateSize, H = c.numHeads, G = c.numKvHeads, Dh = c.headDim,
                V = c.vocabSize;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({kHfEmbed, {V, D}});
  for (int l = 0; l < c.numLayers; ++l) {
    out.push_back({hfInputNorm(l), {D}});
    out.push_back({hfPostAttentionNorm(l), {D}});
    for (Proj p : kAllProj) {
      int64_t outDim = 0, inDim = 0;
      bool bias = false;
      switch (p) {
        case Proj::Q: outDim = H * Dh, inDim = D, bias = c.qkvBias; break;
        case Proj::K:
        case Proj::V: outDim = G * Dh, inDim = D, bias = c.qkvBias; break;
        case Proj::O: outDim = D, inDim = H * Dh, bias = c.oBias; break;
        case Proj::Gate:
        case Proj::Up: outDim = F, inDim = D, bias = c.mlpBias; break;
        case Proj::Down: outDim = D, inDim = F, bias = c.mlpBias; break;
      }
      out.push_back({hfProjPrefix(l, p) + ".weight", {outDim, inDim}});
      if (bias) out.push_back({hfProjPrefix(l, p) + ".bias", {outDim}});
    }
  }
  out.push_back({kHfFinalNorm, {D}});
  if (!c.tieWordEmbeddings) out.push_back({kHfLmHead, {V, D}});
  return out;
}

CheckpointLayout CheckpointLayout::open(const fs::path& dir) {
  CheckpointLayout ck;
  ck.dir_ = dir;
  if (!fs::is_directory(dir))
    throw CheckpointError(dir.string() + ": not a directory (expected a Hugging Face model folder with config.json)");
  checkLinkRule(dir / "config.json", dir);
  ck.config_ = loadModelConfig(dir / "config.json");

  const fs::path index = dir / "model.safetensors.index.json";
  const fs::path single = dir / "model.safetensors";
  std::map<std::string, std::string> shardOf;  // tensor -> shard file name (index only)
  std::vector<std::string> shardNames;
  if (fs::exists(index)) {
    checkLinkRule(index, dir);
    // The same parser the fuzzer exercises (fuzz/safetensors_index_fuzz.cpp): duplicate keys, non-string entries
    // and shard names that are not plain file names are refused there, naming the file.
    std::error_code ec;
    const auto bytes = fs::file_size(index, ec);
    if (ec) throw CheckpointError(index.string() + ": cannot read (" + ec.message() + ")");
    if (bytes > kMaxIndexBytes)
      throw CheckpointError(index.string() + ": " + std::to_string(bytes) + " bytes is too large for a shard index (limit " +
                            std::to_string(kMaxIndexBytes >> 20) + " MiB)");
    std::ifstream in(index, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) throw CheckpointError(index.string() + ": cannot read");
    auto parsed = parseSafetensorsIndex(text, index.string());
    shardOf = std::move(parsed.shardOf);
    shardNames = std::move(parsed.shards);
  } else if (fs::exists(single)) {
    shardNames.push_back("model.safetensors");
  } else {
    throw CheckpointError(dir.string() + ": no model.safetensors or model.safetensors.index.json found");
  }
  for (const auto& name : shardNames) {
    const fs::path p = dir / name;
    if (!fs::exists(p)) throw CheckpointError(index.string() + ": lists shard '" + name + "', which does not exist");
    checkLinkRule(p, dir);
    SafetensorsHeader file = readSafetensorsHeader(p);
    const size_t idx = ck.shards_.size();
    for (const auto& [tname, entry] : file.entries) {
      if (ck.where_.count(tname))
        throw CheckpointError(p.string() + ": tensor '" + tname + "' also appears in " +
                              ck.shards_[ck.where_[tname]].path.filename().string());
      if (!shardOf.empty()) {
        auto it = shardOf.find(tname);
        if (it == shardOf.end() || it->second != name)
          throw CheckpointError(p.string() + ": tensor '" + tname + "' is not listed for this shard in " +
                                index.filename().string());
      }
      ck.where_[tname] = idx;
    }
    ck.shards_.push_back(std::move(file));
  }
  for (const auto& [tname, shard] : shardOf)
    if (!ck.where_.count(tname))
      throw CheckpointError(index.string() + ": lists tensor '" + tname + "' in '" + shard + "', which does not contain it");

  {
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& [tname, idx] : ck.where_) shapes[tname] = ck.shards_[idx].entries.at(tname).shape;
    checkConfigAgainstTensors(ck.config_, dir / "config.json", shapes);
  }
  std::set<std::string> expectedNames;
  for (const auto& [name, shape] : expectedTensors(ck.config_)) {
    expectedNames.insert(name);
    auto it = ck.where_.find(name);
    if (it == ck.where_.end())
      throw CheckpointError(dir.string() + ": missing tensor '" + name + "' (expected shape " + shapeText(shape) +
                            " from config.json)");
    const StEntry& e = ck.shards_[it->second].entries.at(name);
    if (e.shape != shape)
      throw CheckpointError(ck.shards_[it->second].path.string() + ": tensor '" + name + "' has shape " +
                            shapeText(e.shape) + ", expected " + shapeText(shape) + " from config.json");
    if (e.dtype != StDtype::F32 && e.dtype != StDtype::F16 && e.dtype != StDtype::BF16)
      throw CheckpointError(ck.shards_[it->second].path.string() + ": tensor '" + name + "' has dtype " +
                            dtypeName(e.dtype) + ", expected F32, F16 or BF16");
  }
  for (const auto& [tname, idx] : ck.where_)
    if (!expectedNames.count(tname) && !(ck.config_.tieWordEmbeddings && tname == kHfLmHead))
      ck.unexpected_.push_back(tname);
  return ck;
}


std::size_t CheckpointLayout::shardOf(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw CheckpointError(dir_.string() + ": no tensor named '" + name + "'");
  return it->second;
}

std::string CheckpointLayout::storedDtype() const {
  std::set<std::string> kinds;
  for (const auto& [name, shape] : expectedTensors(config_)) kinds.insert(dtypeName(entry(name).dtype));
  return kinds.size() == 1 ? *kinds.begin() : "mixed";
}

uint64_t CheckpointLayout::fileBytes() const {
  uint64_t n = 0;
  for (const auto& f : shards_) n += f.fileSize;
  return n;
}

}  // namespace layerscope::core
