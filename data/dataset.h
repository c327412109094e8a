// Datasets: loading (MNIST/IDX, CSV, NPY), the built-in synthetic "shapes" set, seeded splits and
// a shuffled batch iterator. Normalisation is data/normalize.h.
//
// A Dataset holds its samples as rows of one float32 matrix on the CPU (loaders never touch a
// GPU); the batch iterator moves them to the training device.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "data/csv.h"
#include "data/safetensors.h"

namespace ae::models {

struct Dataset {
  Tensor x;                     // (n, features) float32
  std::vector<int64_t> labels;  // (n), empty if the data has none
  int64_t image_h = 0, image_w = 0;  // when each row is an image_h x image_w picture, else 0
  int64_t image_c = 1;               // its channels, stored last (h, w, c)
  std::string name;             // where it came from, for messages ("mnist-t10k", "shapes")
  std::vector<std::string> notes;  // hints about how it was read (io::CsvTable::label_hint)

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  int64_t features() const { return x.defined() ? x.size(1) : 0; }
  bool has_labels() const { return !labels.empty(); }
  bool is_image() const { return image_h > 0 && image_w > 0; }
};

// Throws ae::Error unless d is well formed: x a non-empty (n, features) float32 matrix, labels
// empty or of length n, image_h * image_w * image_c == features when set.
void validate(const Dataset& d);

// --- loading --------------------------------------------------------------------------------
// An IDX file (raw or gzip) as a Dataset: dim 0 is the sample, the rest are flattened; 3-d files
// set image_h/image_w (4-d files image_c too, channels last). Every value is multiplied by
// `scale`. labels_path, when not empty, is a 1-d IDX file of integer labels, one per sample.
Dataset load_idx(const std::string& images_path, const std::string& labels_path = "",
                 double scale = 1.0);

// MNIST (or any IDX set of uint8 pictures, such as Fashion-MNIST), pixels scaled to [0, 1].
// `path` is either
//   - a folder: it holds train-images-idx3-ubyte[.gz] (preferred) or t10k-images-idx3-ubyte[.gz],
//     and the matching labels file is read when present;
//   - an images file: the labels come from labels_path, or, when that is empty, from the file
//     named like the images one with "images-idx3" replaced by "labels-idx1", when it exists.
// Pixels must lie in 0..255.
Dataset load_mnist(const std::string& path, const std::string& labels_path = "");

// A numeric CSV table (see io::CsvOptions; the label column, when named, becomes the labels and
// must hold integers). The table's label hint, if any, becomes a note.
Dataset load_csv(const std::string& path, const io::CsvOptions& options = {});

// A .npy array of samples (dim 0) and, optionally, integer labels: a 1-d .npy file, or a .npz
// file's array `labels_key` (empty: its only array). 3-d arrays (n, h, w) set image_h/image_w;
// 4-d arrays (n, h, w, c) are pictures with c channels, stored last, and set image_c too.
Dataset load_npy(const std::string& path, const std::string& labels_path = "",
                 const std::string& labels_key = "");

// The array `key` of a .npz archive (empty: its only array; io::read_npz), read as load_npy
// reads a .npy. The labels: the array `labels_key` of labels_path, or of this archive when
// labels_path is empty; else the file labels_path as load_npy reads it.
Dataset load_npz(const std::string& path, const std::string& key = "",
                 const std::string& labels_path = "", const std::string& labels_key = "");

// --- the built-in synthetic set ---------------------------------------------------------------
// 8x8 pictures of four shapes, one class each: 0 horizontal bar, 1 vertical bar, 2 filled
// block, 3 hollow frame. Each is shifted by up to `jitter` pixels along each axis (uniformly),
// drawn with an intensity in [0.75, 1], and overlaid with uniform noise in [0, noise]; values
// stay in [0, 1].
// The classes are balanced (label i % 4 before a seeded shuffle). Deterministic from the seed
// (Philox), cheap (4000 samples in a few milliseconds).
struct ShapesOptions {
  int64_t samples = 4000;
  uint64_t seed = 0;
  double noise = 0.1;
  int64_t jitter = 1;  // 0, 1 or 2
};
inline constexpr int64_t kShapesClasses = 4;
inline constexpr int64_t kShapesSide = 8;
Dataset make_shapes(const ShapesOptions& options = {});

// --- splits, subsets, features --------------------------------------------------------------
// A random permutation of 0..n-1 (Fisher-Yates over Philox draws), the same for the same
// (seed, stream) on every machine.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream = 0);
// The same shuffle from the draws at any offset of seed's Philox stream (n - 1 draws from
// `offset`, counted in 32-bit draws): permutation(n, seed, s) is permutation_at(n, seed, s * 2^32).
std::vector<int64_t> permutation_at(int64_t n, uint64_t seed, uint64_t offset);

// The rows of d at `indices`, in that order (labels follow).
Dataset select(const Dataset& d, const std::vector<int64_t>& indices);
// The rows of d as parts laid out one after the other in one buffer: part k is the rows
// parts[k] (each in increasing order; together they hold every row of d exactly once), and its
// Dataset's x is the view of rows [n_0 + ... + n_(k-1), n_0 + ... + n_k) of the buffer (labels
// follow; an empty part is an empty Dataset). Arrange::in_place rearranges d.x's own memory and
// needs only the rows of the parts after the first as scratch: d's rows are no longer in their
// order afterwards (d is consumed). Arrange::copy gathers a new buffer and leaves d as it is.
enum class Arrange : uint8_t { in_place, copy };
std::vector<Dataset> partition(const Dataset& d, const std::vector<std::vector<int64_t>>& parts,
                               Arrange how);
// The first n samples.
Dataset subset(const Dataset& d, int64_t n);
// {train, validation}: a seeded shuffle, then round(validation_fraction * n) samples go to
// validation. Both parts must be non-empty; together they hold every sample exactly once.
std::pair<Dataset, Dataset> split(const Dataset& d, double validation_fraction, uint64_t seed);
// The rows split() puts in each part, {train, validation}, each in increasing order; `name`
// names the data in errors.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n,
                                                                    double validation_fraction,
                                                                    uint64_t seed,
                                                                    const std::string& name);

// Only the columns at `features` (the result is no longer an image).
Dataset select_features(const Dataset& d, const std::vector<int64_t>& features);

// --- batches --------------------------------------------------------------------------------
struct Batch {
  Tensor x;                      // (b, features) on the iterator's device; a view, do not write
  std::vector<int64_t> labels;   // (b) when the dataset has labels
  std::vector<int64_t> indices;  // (b) rows of the dataset
};

// Walks a dataset in mini-batches, epoch after epoch. With shuffle, epoch e visits the rows in
// permutation(n, seed, e). Each epoch's samples are gathered on the host and copied to the
// device once; batches are row slices of that copy, so no per-batch transfer happens.
class BatchIterator {
 public:
  BatchIterator(const Dataset& data, int64_t batch_size, Device device, uint64_t seed = 0,
                bool shuffle = true, bool drop_last = false);
  // The rows of x (n, features), in x's dtype; batches carry no labels.
  BatchIterator(const Tensor& x, int64_t batch_size, Device device, uint64_t seed = 0,
                bool shuffle = true, bool drop_last = false);

  // The next batch of the current epoch, or false at its end (the following call starts the
  // next epoch).
  bool next(Batch& batch);
  int64_t epoch() const { return epoch_; }        // the epoch being walked, from 0
  int64_t batches_per_epoch() const;
  void seek_epoch(int64_t epoch);                 // restart at the beginning of `epoch`

 private:
  void check_options() const;
  void start_epoch();

  Tensor host_;                  // (n, features) the data on the host, read once
  std::vector<int64_t> labels_;  // (n) or empty
  std::string name_;             // for messages
  int64_t batch_size_;
  Device device_;
  uint64_t seed_;
  bool shuffle_, drop_last_;
  int64_t epoch_ = 0;
  int64_t cursor_ = 0;
  bool started_ = false;
  std::vector<int64_t> order_;  // (n) rows of the current epoch
  Tensor epoch_x_;              // (n, features) on device_, in order_
};

}  // namespace ae::models
