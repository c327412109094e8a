// Checkpoints: the whole training state of a model in one safetensors file, so that training
// resumes exactly where it stopped and any safetensors reader (PyTorch's included) can open it.
//
// Layout of a checkpoint file (all tensors little-endian, C order):
//   <parameter name>               F32/F64  the model's parameters, e.g. "encoder.0.weight" (out, in)
//   optimizer.m.<parameter name>   same     Adam's first moment or SGD's velocity (when taken)
//   optimizer.v.<parameter name>   same     Adam's second moment (when taken)
//   <extra tensors>                any      e.g. the data normaliser's "norm.shift", "norm.scale"
// and the string metadata (safetensors "__metadata__"):
//   ae.format          "ae-checkpoint-1"
//   ae.model           the model as JSON: {"kind": "autoencoder"|"vae"|"sae", "seed": ..., config}
//   <buffer name>      F32/F64  state saved but not trained (Model::buffers), e.g. a sparse
//                               autoencoder's "latents.samples_since_fired"
//   ae.epoch           epochs completed;  ae.step: optimizer steps taken
//   ae.best_epoch      the epoch (from 0) with the lowest monitored loss so far, -1 before any
//   ae.best_loss       that loss, printed with 17 significant digits ("inf" before any)
//   ae.rng_seed        the model generator's seed and position (Philox draws): the noise
//   ae.rng_offset      stream continues from there on resume
//   ae.optimizer_steps Adam's step count t (bias corrections)
//   <extra metadata>   e.g. the run configuration, "norm.kind"
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/autoencoder.h"
#include "data/safetensors.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "models/sae.h"
#include "models/vae.h"

namespace ae::models {

inline constexpr const char* kCheckpointFormat = "ae-checkpoint-1";

// Which model a checkpoint holds: enough to build it again, parameters aside.
enum class ModelKind : uint8_t { autoencoder, vae, sae };
const char* model_kind_name(ModelKind k);  // "autoencoder", "vae", "sae"

struct ModelSpec {
  ModelKind kind = ModelKind::autoencoder;
  AutoencoderConfig autoencoder;  // when kind is autoencoder
  VaeConfig vae;                  // when kind is vae
  SaeConfig sae;                  // when kind is sae
  uint64_t seed = 0;              // the parameter initialisation and noise seed

  int64_t input_width() const;
  int64_t code_width() const;  // the autoencoder's code, the VAE's latent, the SAE's latents
  DataKind data() const;
};

// ModelSpec <-> JSON text. Parsing is strict: a missing or unknown field, or a value of the wrong
// type, is an ae::Error naming `where` (the file) and the field.
std::string model_spec_json(const ModelSpec& spec);
ModelSpec parse_model_spec(const std::string& json_text, const std::string& where);

// A fresh model (initialised from spec.seed) on `device`.
std::unique_ptr<Model> build_model(const ModelSpec& spec, Device device);

// What save_checkpoint writes besides the model's parameters.
struct CheckpointExtras {
  std::vector<io::SafeTensor> tensors;          // names must not clash with the parameters'
  std::map<std::string, std::string> metadata;  // keys must not start with "ae."
};

// Writes `path` atomically (the previous file stays intact until the new one is complete).
// `optimizer` may be null (a model alone; it is only read); its parameters must be the model's, in the order of
// model.parameters(). A non-finite parameter or a NaN best loss is an error and nothing is written
// (the file would not load).
void save_checkpoint(const std::string& path, const ModelSpec& spec, Model& model,
                     Optimizer* optimizer, const TrainingState& state,
                     const CheckpointExtras& extras = {});

// A checkpoint as read from disk, every header field checked.
struct Checkpoint {
  std::string path;
  ModelSpec spec;
  TrainingState state;
  uint64_t rng_seed = 0, rng_offset = 0;
  int64_t optimizer_steps = 0;
  io::SafeTensorsFile file;  // every tensor and every metadata entry

  const io::SafeTensor& tensor(const std::string& name) const;  // throws when absent
  bool has(const std::string& name) const { return file.find(name) != nullptr; }
  // A metadata value, or an ae::Error naming the file and the key.
  const std::string& metadata(const std::string& key) const;
};

Checkpoint read_checkpoint(const std::string& path);

// Copies the checkpoint's parameters into `model` and puts its generator at the saved position.
// Every parameter must be present with the model's shape: otherwise an ae::Error names the file,
// the tensor and both shapes ("best.safetensors: 'encoder.0.weight' has shape (64, 784), the
// model expects (128, 784)"). Extra parameter tensors are an error too, and so is a NaN or infinity
// ("best.safetensors: tensor 'encoder.0.weight' holds nan at flat index 3 ...").
void restore_model(const Checkpoint& checkpoint, Model& model);
// Copies the saved moments and step count into `optimizer` (built over model.parameters()).
// Returns false when the optimizer keeps a state between steps (Adam's moments, SGD's momentum)
// and the checkpoint holds none of it (one written without its optimizer, such as the Python
// package's save): the optimizer then starts again from zero.
bool restore_optimizer(const Checkpoint& checkpoint, const Model& model, Optimizer& optimizer);

// read_checkpoint, build_model and restore_model in one: a model ready to use.
std::unique_ptr<Model> load_model(const Checkpoint& checkpoint, Device device);

// Tensor <-> SafeTensor. Only f32 and f64 tensors convert; the copy goes through the host.
io::SafeTensor to_safetensor(const std::string& name, const Tensor& t);
// Overwrites `into` (any device) with the values of `from`, whose dtype and shape must match;
// errors name `where` (the file) and the tensor. A NaN or infinity in `from` is refused.
void copy_into(const io::SafeTensor& from, Tensor& into, const std::string& where);

}  // namespace ae::models
