// Typed errors for every user-facing failure. Messages say what was expected, what was found and where
// (file, tensor, field, line), plus a hint where one helps. Library code throws; the CLI prints and exits
// non-zero; the GUI shows a dialog.
#pragma once

#include <stdexcept>
#include <string>

namespace layerscope {

/// Base of every LayerScope error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A checkpoint file (safetensors, index) is missing, malformed or does not match the config.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

/// config.json (or another JSON configuration) is missing a field, has a wrong type or an unsupported value.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// tokenizer.json / tokenizer_config.json is malformed or uses an unsupported component.
class TokenizerError : public Error {
 public:
  using Error::Error;
};

/// A task / dataset file (JSONL) is malformed.
class DatasetError : public Error {
 public:
  using Error::Error;
};

/// A caller passed an invalid option (layer out of range, bad shape, unknown name).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// The job was cancelled through its JobControl. A distinct outcome, not a failure.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace layerscope
