#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/ops.h"
#include "kernels/cpu/random.h"
#include "data/idx.h"
#include "data/npy.h"
#include "data/npz.h"
#include "data/zip.h"

namespace ae::models {

namespace {

// Disjoint windows of one seed's Philox stream: permutation stream s reads the 2^32 draws from
// offset s * 2^32. Epoch e of a BatchIterator is stream e; the fixed uses sit far above.
constexpr uint64_t kSplitStream = (uint64_t{1} << 24) - 1;
constexpr uint64_t kShapesLabelStream = (uint64_t{1} << 24) - 2;
constexpr uint64_t kShapesPixelStream = (uint64_t{1} << 24) - 3;
constexpr uint64_t stream_offset(uint64_t stream) { return stream << 32; }

// (bits + 1/2) / 2^32: uniform in (0, 1), 32 random bits.
double uniform_from(uint32_t bits) { return (bits + 0.5) * 0x1p-32; }
// floor(bits * n / 2^32): an index in [0, n) (Lemire's multiply-shift; bias <= n / 2^32).
int64_t index_from(uint32_t bits, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(bits) * static_cast<uint64_t>(n)) >> 32);
}

std::vector<uint32_t> draws(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<uint32_t> bits(static_cast<size_t>(n));
  if (n > 0) cpu::rand_bits(bits.data(), n, seed, stream_offset(stream), nullptr);
  return bits;
}

// Every value of x (rows, cols) must be finite; the message names the file, the row and the
// feature.
void check_finite(const float* x, int64_t rows, int64_t cols, const std::string& path) {
  const int64_t n = rows * cols;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]))
      fail(cat(path, ": row ", i / cols, " (from 0), feature ", i % cols, ": ", x[i],
               " is not a finite number"));
  }
}

// Integer class labels from float values; non-integers name the file and row.
std::vector<int64_t> to_labels(const std::vector<float>& values, const std::string& path) {
  std::vector<int64_t> labels(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    float v = values[i];
    AE_CHECK(std::isfinite(v) && v == std::round(v), path, ": row ", i,
             " (from 0): label ", v, " is not an integer");
    labels[i] = static_cast<int64_t>(v);
  }
  return labels;
}

std::vector<int64_t> read_label_array(const io::Array& a, const std::string& path) {
  AE_CHECK(a.shape.size() == 1, path, ": labels must be 1-d, got shape ", io::shape_string(a.shape));
  return to_labels(a.data, path);
}

// The (rows, cols) matrix of an array of samples along dim 0 of `shape`; an error without samples.
std::pair<int64_t, int64_t> sample_matrix(const std::vector<int64_t>& shape, const std::string& path) {
  io::Array a;
  a.shape = shape;
  AE_CHECK(!shape.empty() && a.rows() > 0 && a.cols() > 0, path,
           ": no samples (shape ", io::shape_string(shape), ")");
  return {a.rows(), a.cols()};
}

// A Dataset from x, the host float32 (rows, cols) matrix of an array of `shape` (samples along
// dim 0; 3-d and 4-d arrays are pictures), each value multiplied by `scale` in place.
Dataset from_matrix(Tensor x, const std::vector<int64_t>& shape, const std::string& path,
                    double scale) {
  float* v = x.data_as<float>();
  check_finite(v, x.size(0), x.size(1), path);
  if (scale != 1.0)
    for (int64_t i = 0; i < x.numel(); ++i) v[i] = static_cast<float>(v[i] * scale);
  Dataset d;
  d.x = std::move(x);
  if (shape.size() == 3 || shape.size() == 4) {
    d.image_h = shape[1];
    d.image_w = shape[2];
    d.image_c = shape.size() == 4 ? shape[3] : 1;
  }
  d.name = std::filesystem::path(path).filename().string();
  return d;
}

// A Dataset from a host array of samples along dim 0; its values are taken over, not copied.
Dataset from_array(io::Array a, const std::string& path, double scale) {
  const auto [rows, cols] = sample_matrix(a.shape, path);
  auto values = std::make_shared<std::vector<float>>(std::move(a.data));
  Tensor x = Tensor::from_external(values->data(), {rows, cols}, DType::f32, Device::cpu(), values);
  return from_matrix(std::move(x), a.shape, path, scale);
}

void attach_labels(Dataset& d, std::vector<int64_t> labels, const std::string& path) {
  AE_CHECK(static_cast<int64_t>(labels.size()) == d.size(), path, ": ", labels.size(),
           " labels for ", d.size(), " samples");
  d.labels = std::move(labels);
}

// The labels of load_npy and load_npz: the array `key` of the .npz `file` (of `archive`, the
// data's own .npz, when file is empty), or the .npy or single-array .npz `file`; none without
// either.
void attach_file_labels(Dataset& d, const std::string& file, const std::string& key,
                        const std::string& archive) {
  if (file.empty() && key.empty()) return;
  const std::string source = file.empty() ? archive : file;
  AE_CHECK(!source.empty(), "the labels' array name ", key, " needs a .npz file (--labels)");
  uint8_t head[4] = {};
  {
    io::InputFile in(source);
    if (in.size() >= 4) in.read_at(0, head, 4);
  }
  const bool npz = io::is_zip(head, 4);
  AE_CHECK(npz || key.empty(), source, ": not a .npz archive, so it has no array '", key,
           "' for the labels");
  const std::string where = npz && !key.empty() ? cat(source, "[", key, "]") : source;
  io::Array a = npz ? io::read_npz(source, key) : io::read_npy(source);
  attach_labels(d, read_label_array(a, where), where);
}

// The first existing file among `names` in `dir`, or "".
std::string find_in(const std::filesystem::path& dir, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    std::filesystem::path p = dir / n;
    if (std::filesystem::is_regular_file(p)) return p.string();
  }
  return "";
}

std::vector<std::string> idx_names(const std::string& set, const std::string& kind, int dims) {
  // Both spellings seen in the wild: "train-images-idx3-ubyte" and "train-images.idx3-ubyte".
  std::string tail = "idx" + std::to_string(dims) + "-ubyte";
  std::vector<std::string> names;
  for (const char* sep : {"-", "."})
    for (const char* ext : {"", ".gz"}) names.push_back(set + "-" + kind + sep + tail + ext);
  return names;
}

}  // namespace

void validate(const Dataset& d) {
  const std::string& n = d.name.empty() ? std::string("dataset") : d.name;
  AE_CHECK(d.x.defined(), n, ": no data");
  AE_CHECK(d.x.ndim() == 2, n, ": x must be (samples, features), got ", d.x.shape());
  AE_CHECK(d.x.dtype() == DType::f32, n, ": x must be float32, got ", d.x.str());
  AE_CHECK(d.size() > 0 && d.features() > 0, n, ": empty dataset ", d.x.shape());
  AE_CHECK(d.labels.empty() || static_cast<int64_t>(d.labels.size()) == d.size(), n, ": ",
           d.labels.size(), " labels for ", d.size(), " samples");
  AE_CHECK(d.image_c >= 1, n, ": image channels must be >= 1, got ", d.image_c);
  AE_CHECK((d.image_h == 0 && d.image_w == 0) || d.image_h * d.image_w * d.image_c == d.features(),
           n, ": image ", d.image_h, "x", d.image_w, "x", d.image_c, " does not match ",
           d.features(), " features");
}

// --- loading --------------------------------------------------------------------------------

Dataset load_idx(const std::string& images_path, const std::string& labels_path, double scale) {
  Dataset d = from_array(io::read_idx(images_path), images_path, scale);
  if (!labels_path.empty())
    attach_labels(d, read_label_array(io::read_idx(labels_path), labels_path), labels_path);
  return d;
}

Dataset load_mnist(const std::string& path, const std::string& labels_path) {
  std::string images = path, labels = labels_path, name;
  if (std::filesystem::is_directory(path)) {
    for (const char* set : {"train", "t10k"}) {
      images = find_in(path, idx_names(set, "images", 3));
      if (!images.empty()) {
        if (labels.empty()) labels = find_in(path, idx_names(set, "labels", 1));
        name = std::string("mnist-") + set;
        break;
      }
    }
    AE_CHECK(!images.empty(), path,
             ": no MNIST images (train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz])");
  } else if (labels.empty()) {
    std::filesystem::path p(path);
    std::string file = p.filename().string();
    if (size_t at = file.find("images-idx3"); at != std::string::npos) {
      std::string sibling = (p.parent_path() / file.replace(at, 11, "labels-idx1")).string();
      if (std::filesystem::is_regular_file(sibling)) labels = sibling;
    }
  }
  io::Array a = io::read_idx(images);
  for (size_t i = 0; i < a.data.size(); ++i) {
    float v = a.data[i];
    AE_CHECK(v >= 0 && v <= 255, images, ": row ", static_cast<int64_t>(i) / std::max<int64_t>(1, a.cols()),
             " (from 0): value ", v, " is not an 8-bit pixel");
  }
  Dataset d = from_array(std::move(a), images, 1.0 / 255.0);
  if (!labels.empty()) attach_labels(d, read_label_array(io::read_idx(labels), labels), labels);
  if (!name.empty()) d.name = name;
  return d;
}

Dataset load_csv(const std::string& path, const io::CsvOptions& options) {
  io::CsvTable t = io::read_csv(path, options);
  const char delimiter = t.delimiter;
  Dataset d = from_array(std::move(t.features), path, 1.0);
  if (!t.label_column.empty()) attach_labels(d, to_labels(t.labels, path), path);
  if (options.delimiter == 0 && delimiter != ',')
    d.notes.push_back(cat(path, ": fields separated by ",
                          delimiter == '\t'  ? std::string("tabs")
                          : delimiter == ' ' ? std::string("spaces")
                                             : cat("'", delimiter, "'"),
                          " (from the file; --delimiter sets another)"));
  if (!t.label_hint.empty()) d.notes.push_back(t.label_hint);
  return d;
}

Dataset load_npy(const std::string& path, const std::string& labels_path,
                 const std::string& labels_key) {
  // The values are read straight into the tensor the data set holds: no other copy is made.
  Tensor x;
  const std::vector<int64_t> shape = io::read_npy_into(path, [&](const std::vector<int64_t>& s) {
    const auto [rows, cols] = sample_matrix(s, path);
    x = Tensor::empty({rows, cols}, DType::f32, Device::cpu());
    return x.data_as<float>();
  });
  Dataset d = from_matrix(std::move(x), shape, path, 1.0);
  attach_file_labels(d, labels_path, labels_key, "");
  return d;
}

Dataset load_npz(const std::string& path, const std::string& key, const std::string& labels_path,
                 const std::string& labels_key) {
  Dataset d = from_array(io::read_npz(path, key), path, 1.0);
  attach_file_labels(d, labels_path, labels_key, path);
  return d;
}

// --- the synthetic set ----------------------------------------------------------------------

Dataset make_shapes(const ShapesOptions& o) {
  AE_CHECK(o.samples > 0, "make_shapes: samples must be positive, got ", o.samples);
  AE_CHECK(o.noise >= 0 && o.noise <= 1, "make_shapes: noise must be in [0, 1], got ", o.noise);
  AE_CHECK(o.jitter >= 0 && o.jitter <= 2, "make_shapes: jitter must be 0, 1 or 2, got ", o.jitter);
  constexpr int64_t S = kShapesSide, P = S * S;
  // Per sample: jitter x, jitter y, intensity, then one noise draw per pixel.
  constexpr int64_t kDraws = 3 + P;
  const int64_t n = o.samples;
  std::vector<int64_t> order = permutation(n, o.seed, kShapesLabelStream);
  std::vector<uint32_t> bits = draws(n * kDraws, o.seed, kShapesPixelStream);

  // Each class as a mask centred on the 8x8 grid; jitter moves it (pixels shifted off the grid
  // are lost).
  auto inside = [](int64_t label, int64_t r, int64_t c) {
    switch (label) {
      case 0: return r >= 3 && r <= 4 && c >= 1 && c <= 6;             // horizontal bar 2x6
      case 1: return c >= 3 && c <= 4 && r >= 1 && r <= 6;             // vertical bar 6x2
      case 2: return r >= 2 && r <= 5 && c >= 2 && c <= 5;             // filled block 4x4
      default:                                                         // hollow frame 6x6
        return r >= 1 && r <= 6 && c >= 1 && c <= 6 && (r == 1 || r == 6 || c == 1 || c == 6);
    }
  };
  std::vector<float> x(static_cast<size_t>(n * P));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t* b = bits.data() + i * kDraws;
    const int64_t label = order[i] % kShapesClasses;
    const int64_t span = 2 * o.jitter + 1;
    const int64_t dx = index_from(b[0], span) - o.jitter, dy = index_from(b[1], span) - o.jitter;
    const double intensity = 0.75 + 0.25 * uniform_from(b[2]);
    float* xi = x.data() + i * P;
    for (int64_t r = 0; r < S; ++r)
      for (int64_t c = 0; c < S; ++c) {
        double v = o.noise * uniform_from(b[3 + r * S + c]);
        if (inside(label, r - dy, c - dx)) v = std::max(v, intensity);
        xi[r * S + c] = static_cast<float>(std::min(1.0, v));
      }
    labels[i] = label;
  }
  Dataset d;
  d.x = Tensor::from_host(x, {n, P}, Device::cpu());
  d.labels = std::move(labels);
  d.image_h = d.image_w = S;
  d.name = "shapes";
  return d;
}

// --- splits, subsets, features --------------------------------------------------------------

std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  AE_CHECK(n >= 0 && n <= (int64_t{1} << 32), "permutation: n = ", n, " outside [0, 2^32]");
  AE_CHECK(stream < (uint64_t{1} << 32), "permutation: stream ", stream, " >= 2^32");
  return permutation_at(n, seed, stream_offset(stream));
}

std::vector<int64_t> permutation_at(int64_t n, uint64_t seed, uint64_t offset) {
  AE_CHECK(n >= 0 && n <= (int64_t{1} << 32), "permutation: n = ", n, " outside [0, 2^32]");
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  if (n < 2) return p;
  std::vector<uint32_t> bits(static_cast<size_t>(n - 1));
  cpu::rand_bits(bits.data(), n - 1, seed, offset, nullptr);
  // Fisher-Yates from the top: swap element i with a uniform one of 0..i.
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[index_from(bits[n - 1 - i], i + 1)]);
  return p;
}

Dataset select(const Dataset& d, const std::vector<int64_t>& indices) {
  validate(d);
  AE_CHECK(!indices.empty(), d.name, ": selecting no samples gives an empty dataset");
  const int64_t n = d.size(), f = d.features();
  std::vector<float> src = d.x.to_floats(), dst(indices.size() * f);
  Dataset out;
  out.labels.reserve(d.has_labels() ? indices.size() : 0);
  for (size_t i = 0; i < indices.size(); ++i) {
    int64_t r = indices[i];
    AE_CHECK(r >= 0 && r < n, d.name, ": sample index ", r, " outside [0, ", n, ")");
    std::copy_n(src.begin() + r * f, f, dst.begin() + static_cast<int64_t>(i) * f);
    if (d.has_labels()) out.labels.push_back(d.labels[r]);
  }
  out.x = Tensor::from_host(dst, {static_cast<int64_t>(indices.size()), f}, d.x.device());
  out.image_h = d.image_h;
  out.image_w = d.image_w;
  out.image_c = d.image_c;
  out.name = d.name;
  return out;
}

std::vector<Dataset> partition(const Dataset& d, const std::vector<std::vector<int64_t>>& parts,
                               Arrange how) {
  validate(d);
  AE_CHECK(d.x.device() == Device::cpu(), d.name, ": partition: the rows are on ", d.x.device().str(),
           ", not on the host");
  const int64_t n = d.size(), f = d.features();
  std::vector<int64_t> order;  // position -> row of d
  order.reserve(static_cast<size_t>(n));
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (const std::vector<int64_t>& part : parts)
    for (size_t i = 0; i < part.size(); ++i) {
      const int64_t r = part[i];
      AE_CHECK(r >= 0 && r < n && !seen[r] && (i == 0 || part[i - 1] < r), d.name,
               ": partition: row ", r, " is outside [0, ", n, "), listed twice or out of order");
      seen[r] = true;
      order.push_back(r);
    }
  AE_CHECK(static_cast<int64_t>(order.size()) == n, d.name, ": partition: the parts hold ",
           order.size(), " of the ", n, " rows");
  const size_t row_bytes = static_cast<size_t>(f) * sizeof(float);
  Tensor buffer;
  if (how == Arrange::copy) {
    buffer = Tensor::empty(d.x.shape(), DType::f32, Device::cpu());
    const char* src = static_cast<const char*>(d.x.data());
    char* dst = static_cast<char*>(buffer.data());
    for (int64_t p = 0; p < n; ++p) std::memcpy(dst + p * row_bytes, src + order[p] * row_bytes, row_bytes);
  } else {
    // The first part's rows move towards the front (row order[p] >= p, so nothing is
    // overwritten before it is moved); the other parts' rows wait in a scratch copy meanwhile.
    buffer = d.x;
    char* x = static_cast<char*>(buffer.data());
    const int64_t first = parts.empty() ? 0 : static_cast<int64_t>(parts[0].size());
    std::vector<char> rest(static_cast<size_t>(n - first) * row_bytes);
    for (int64_t p = first; p < n; ++p)
      std::memcpy(rest.data() + (p - first) * row_bytes, x + order[p] * row_bytes, row_bytes);
    for (int64_t p = 0; p < first; ++p)
      if (order[p] != p) std::memmove(x + p * row_bytes, x + order[p] * row_bytes, row_bytes);
    if (!rest.empty()) std::memcpy(x + first * row_bytes, rest.data(), rest.size());
  }
  std::vector<Dataset> out;
  int64_t start = 0;
  for (const std::vector<int64_t>& part : parts) {
    Dataset p;
    p.image_h = d.image_h;
    p.image_w = d.image_w;
    p.image_c = d.image_c;
    p.name = d.name;
    const int64_t size = static_cast<int64_t>(part.size());
    if (size > 0) {
      p.x = slice(buffer, start, start + size);
      if (d.has_labels())
        for (int64_t r : part) p.labels.push_back(d.labels[r]);
    }
    start += size;
    out.push_back(std::move(p));
  }
  return out;
}

Dataset subset(const Dataset& d, int64_t n) {
  validate(d);
  AE_CHECK(n > 0 && n <= d.size(), d.name, ": subset of ", n, " samples out of ", d.size());
  Dataset out = d;
  out.x = slice(d.x, 0, n);
  if (d.has_labels()) out.labels.resize(n);
  return out;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n,
                                                                    double validation_fraction,
                                                                    uint64_t seed,
                                                                    const std::string& name) {
  AE_CHECK(validation_fraction > 0 && validation_fraction < 1, name,
           ": validation fraction must be in (0, 1), got ", validation_fraction);
  const int64_t n_val = std::llround(validation_fraction * static_cast<double>(n));
  AE_CHECK(n_val > 0 && n_val < n, name, ": a validation fraction of ", validation_fraction,
           " of ", n, " samples leaves ", n_val, " for validation and ", n - n_val,
           " for training; both need at least one");
  std::vector<int64_t> p = permutation(n, seed, kSplitStream);
  // Each part keeps the original order: the permutation only decides membership.
  std::vector<int64_t> val(p.begin(), p.begin() + n_val), train(p.begin() + n_val, p.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {std::move(train), std::move(val)};
}

std::pair<Dataset, Dataset> split(const Dataset& d, double validation_fraction, uint64_t seed) {
  validate(d);
  const auto [train, val] = split_indices(d.size(), validation_fraction, seed, d.name);
  std::pair<Dataset, Dataset> parts{select(d, train), select(d, val)};
  parts.first.name = d.name + "[train]";
  parts.second.name = d.name + "[validation]";
  return parts;
}

Dataset select_features(const Dataset& d, const std::vector<int64_t>& features) {
  validate(d);
  AE_CHECK(!features.empty(), d.name, ": selecting no features");
  const int64_t n = d.size(), f = d.features(), k = static_cast<int64_t>(features.size());
  for (int64_t j : features)
    AE_CHECK(j >= 0 && j < f, d.name, ": feature index ", j, " outside [0, ", f, ")");
  std::vector<float> src = d.x.to_floats(), dst(n * k);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) dst[i * k + j] = src[i * f + features[j]];
  Dataset out;
  out.x = Tensor::from_host(dst, {n, k}, d.x.device());
  out.labels = d.labels;
  out.name = d.name;
  return out;
}

// --- batches --------------------------------------------------------------------------------

BatchIterator::BatchIterator(const Dataset& data, int64_t batch_size, Device device,
                             uint64_t seed, bool shuffle, bool drop_last)
    : labels_(data.labels), name_(data.name.empty() ? "dataset" : data.name),
      batch_size_(batch_size), device_(device), seed_(seed), shuffle_(shuffle),
      drop_last_(drop_last) {
  validate(data);
  host_ = data.x.to(Device::cpu());
  check_options();
}

BatchIterator::BatchIterator(const Tensor& x, int64_t batch_size, Device device, uint64_t seed,
                             bool shuffle, bool drop_last)
    : name_("data"), batch_size_(batch_size), device_(device), seed_(seed), shuffle_(shuffle),
      drop_last_(drop_last) {
  AE_CHECK(x.defined() && x.ndim() == 2 && x.size(0) > 0, "BatchIterator: the data must be ",
           "(samples, features) with samples > 0, got ", x.defined() ? x.shape().str() : "undefined");
  host_ = x.to(Device::cpu());
  check_options();
}

void BatchIterator::check_options() const {
  const int64_t n = host_.size(0);
  AE_CHECK(batch_size_ > 0, name_, ": batch size must be positive, got ", batch_size_);
  AE_CHECK(!drop_last_ || batch_size_ <= n, name_, ": batch size ", batch_size_,
           " with drop_last leaves no batch of ", n, " samples");
}

int64_t BatchIterator::batches_per_epoch() const {
  const int64_t n = host_.size(0);
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

void BatchIterator::seek_epoch(int64_t epoch) {
  AE_CHECK(epoch >= 0, name_, ": epoch ", epoch, " is negative");
  epoch_ = epoch;
  cursor_ = 0;
  started_ = false;
}

void BatchIterator::start_epoch() {
  const int64_t n = host_.size(0);
  if (shuffle_) {
    order_ = permutation(n, seed_, static_cast<uint64_t>(epoch_));
  } else if (epoch_x_.defined()) {
    started_ = true;  // the same order every epoch: keep the copy on the device
    return;
  } else {
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), int64_t{0});
  }
  // The rows in order_, gathered on the host whatever the dtype, then one copy to the device.
  Tensor rows = Tensor::empty(host_.shape(), host_.dtype(), Device::cpu());
  const size_t row_bytes = host_.nbytes() / static_cast<size_t>(n);
  const char* src = static_cast<const char*>(host_.data());
  char* dst = static_cast<char*>(rows.data());
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(dst + i * row_bytes, src + order_[i] * row_bytes, row_bytes);
  epoch_x_ = rows.to(device_);
  started_ = true;
}

bool BatchIterator::next(Batch& batch) {
  if (!started_) start_epoch();
  const int64_t n = host_.size(0);
  const int64_t end_of_epoch = std::min(n, batches_per_epoch() * batch_size_);
  if (cursor_ >= end_of_epoch) {
    ++epoch_;
    cursor_ = 0;
    started_ = false;
    return false;
  }
  const int64_t stop = std::min(n, cursor_ + batch_size_);
  batch.x = slice(epoch_x_, cursor_, stop);
  batch.indices.assign(order_.begin() + cursor_, order_.begin() + stop);
  batch.labels.clear();
  if (!labels_.empty())
    for (int64_t r : batch.indices) batch.labels.push_back(labels_[r]);
  cursor_ = stop;
  return true;
}

}  // namespace ae::models
