#include "data/stream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/autograd.h"
#include "core/device.h"
#include "core/error.h"
#include "kernels/cpu/random.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "data/sniff.h"

namespace ae::models {

namespace {

namespace fs = std::filesystem;

// The Philox stream (offset 2^32 * s, as data/dataset.cpp lays them out) of the split's phase.
constexpr uint64_t kBlockSplitOffset = ((uint64_t{1} << 24) - 4) << 32;

// The safetensors dtypes a shard may hold, as the .npy dtype of the same values.
std::string npy_descr_of(const std::string& dtype) {
  if (dtype == "F16") return "<f2";
  if (dtype == "BF16") return "<V2";
  if (dtype == "F32") return "<f4";
  if (dtype == "F64") return "<f8";
  if (dtype == "U8") return "|u1";
  if (dtype == "I8") return "|i1";
  if (dtype == "I32") return "<i4";
  if (dtype == "I64") return "<i8";
  return "";
}

std::string dims_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

// --- RowFiles -------------------------------------------------------------------------------

struct RowFiles::Shard {
  std::string path;
  std::string descr;        // the values' dtype as .npy spells it
  int element_size = 0;
  uint64_t offset = 0;      // of the first value in the file
  int64_t first_row = 0;    // of the shard in all rows
  int64_t rows = 0;
  std::vector<int64_t> shape;
  io::InputFile file;

  explicit Shard(const std::string& p) : path(p), file(p) {}
};

RowFiles::RowFiles(const std::string& path, const std::string& key) : path_(path) {
  std::vector<std::string> paths;
  bool safetensors = false;
  if (fs::is_directory(path)) {
    std::vector<std::string> npy, st;
    for (const fs::directory_entry& e : fs::directory_iterator(path)) {
      if (!e.is_regular_file()) continue;
      const std::string ext = e.path().extension().string();
      if (ext == ".npy") npy.push_back(e.path().string());
      if (ext == ".safetensors") st.push_back(e.path().string());
    }
    AE_CHECK(npy.empty() || st.empty(), path, ": holds both .npy (", npy.size(),
             ") and .safetensors (", st.size(), ") files; a folder of shards holds one kind");
    AE_CHECK(!npy.empty() || !st.empty(), path, ": no .npy or .safetensors shards in the folder");
    safetensors = npy.empty();
    paths = safetensors ? st : npy;
    std::sort(paths.begin(), paths.end());
  } else {
    paths.push_back(path);
    safetensors = fs::path(path).extension() == ".safetensors" ||
                  io::sniff_file(path).format == "safetensors";
  }
  AE_CHECK(safetensors || key.empty(), path, ": the tensor name '", key,
           "' is for .safetensors shards; these are .npy files");
  for (const std::string& p : paths) {
    auto shard = std::make_unique<Shard>(p);
    if (safetensors) {
      const std::vector<io::SafeTensorInfo> tensors = io::read_safetensors_layout(p);
      const io::SafeTensorInfo* t = nullptr;
      std::string names;
      for (const io::SafeTensorInfo& i : tensors) {
        if (i.name == (key.empty() ? "x" : key)) t = &i;
        names += cat(names.empty() ? "" : ", ", i.name);
      }
      if (t == nullptr && key.empty() && tensors.size() == 1) t = &tensors[0];
      AE_CHECK(t != nullptr || key.empty(), p, ": no tensor '", key, "' (it holds ",
               names.empty() ? std::string("none") : names, ")");
      AE_CHECK(t != nullptr, p, ": holds ", tensors.size(), " tensors (", names,
               ") and none named 'x'; a shard holds its rows as 'x' or as its only tensor, or "
               "--npz-key names it");
      shard->descr = npy_descr_of(t->dtype);
      AE_CHECK(!shard->descr.empty(), p, ": tensor '", t->name, "' is ", t->dtype,
               "; a shard's rows must be F16, BF16, F32, F64, U8, I8, I32 or I64");
      shard->shape = t->shape;
      shard->offset = t->offset;
      shard->element_size = io::safetensors_dtype_size(t->dtype);
    } else {
      const io::NpyLayout l = io::read_npy_layout(p);
      shard->descr = l.descr;
      shard->shape = l.shape;
      shard->offset = l.data_offset;
      shard->element_size = l.element_size;
    }
    const std::vector<int64_t>& shape = shard->shape;
    AE_CHECK(shape.size() >= 2 && shape[0] > 0, p, ": shape ", dims_string(shape),
             " holds no rows of features; expected (rows, features...) with rows > 0");
    int64_t features = 1;
    for (size_t i = 1; i < shape.size(); ++i) features *= shape[i];  // checked by the reader
    AE_CHECK(features > 0, p, ": shape ", dims_string(shape), " has no features");
    if (!shards_.empty()) {
      const Shard& first = *shards_.front();
      AE_CHECK(std::equal(shape.begin() + 1, shape.end(), first.shape.begin() + 1,
                          first.shape.end()),
               p, ": shape ", dims_string(shape), " does not match the first shard's ",
               dims_string(first.shape), " (", first.path, "): every shard needs the same features");
    } else {
      features_ = features;
      if (shape.size() == 3 || shape.size() == 4) {
        image_h_ = shape[1];
        image_w_ = shape[2];
        image_c_ = shape.size() == 4 ? shape[3] : 1;
      }
    }
    shard->first_row = rows_;
    shard->rows = shape[0];
    rows_ += shape[0];
    shards_.push_back(std::move(shard));
  }
}

RowFiles::~RowFiles() = default;

uint64_t RowFiles::data_bytes() const {
  uint64_t bytes = 0;
  for (const auto& s : shards_)
    bytes += static_cast<uint64_t>(s->rows * features_) * static_cast<uint64_t>(s->element_size);
  return bytes;
}

void RowFiles::read(int64_t first, int64_t count, float* out) const {
  AE_CHECK(first >= 0 && count >= 0 && first + count <= rows_, path_, ": rows [", first, ", ",
           first + count, ") outside [0, ", rows_, ")");
  // The shard holding `first`: the last one that starts at or before it.
  auto it = std::upper_bound(shards_.begin(), shards_.end(), first,
                             [](int64_t row, const auto& s) { return row < s->first_row; });
  std::vector<uint8_t> raw;
  for (--it; count > 0; ++it) {
    const Shard& s = **it;
    const int64_t from = first - s.first_row;
    const int64_t n = std::min(count, s.rows - from);
    const uint64_t values = static_cast<uint64_t>(n * features_);
    const uint64_t size = static_cast<uint64_t>(s.element_size);
    raw.resize(values * size);
    s.file.read_at(s.offset + static_cast<uint64_t>(from * features_) * size, raw.data(), raw.size());
    io::npy_to_f32(s.descr, raw.data(), values, out, static_cast<uint64_t>(from * features_), s.path);
    for (uint64_t i = 0; i < values; ++i)
      if (!std::isfinite(out[i]))
        fail(cat(s.path, ": row ", from + static_cast<int64_t>(i) / features_, " (from 0), feature ",
                 static_cast<int64_t>(i) % features_, ": ", out[i], " is not a finite number"));
    out += values;
    first += n;
    count -= n;
  }
}

Dataset load_rows(const std::string& path, const std::string& key) {
  const RowFiles files(path, key);
  const int64_t f = files.features();
  Tensor x = Tensor::empty({files.rows(), f}, DType::f32, Device::cpu());
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / (f * 4));
  for (int64_t r = 0; r < files.rows(); r += block)
    files.read(r, std::min(block, files.rows() - r), x.data_as<float>() + r * f);
  Dataset d;
  d.x = std::move(x);
  d.image_h = files.image_h();
  d.image_w = files.image_w();
  d.image_c = files.image_c();
  d.name = fs::path(path).filename().string();
  if (d.name.empty()) d.name = fs::path(path).parent_path().filename().string();  // "dir/"
  return d;
}

// --- the split ------------------------------------------------------------------------------

int64_t BlockSplit::count(int64_t file_blocks) const {
  if (every == 0) return file_blocks;
  const int64_t held = phase < file_blocks ? (file_blocks - 1 - phase) / every + 1 : 0;
  return held_out ? held : file_blocks - held;
}

int64_t BlockSplit::file_block(int64_t i) const {
  if (every == 0) return i;
  if (held_out) return phase + i * every;
  // Each run of `every` blocks gives every - 1 to this part: all but the one at `phase`.
  const int64_t run = i / (every - 1), r = i % (every - 1);
  return run * every + r + (r >= phase ? 1 : 0);
}

std::pair<BlockSplit, BlockSplit> block_split(int64_t file_blocks, double validation_fraction,
                                              uint64_t seed, const std::string& name) {
  AE_CHECK(validation_fraction > 0 && validation_fraction < 1, name,
           ": validation fraction must be in (0, 1), got ", validation_fraction);
  const int64_t every = std::llround(1.0 / validation_fraction);
  AE_CHECK(every >= 2, name, ": a validation fraction of ", validation_fraction,
           " holds out every ", every, " block of a streamed file; it must be at most 0.67");
  AE_CHECK(file_blocks >= 2, name, ": its rows form ", file_blocks,
           " block; holding one out for validation needs two (--validation 0, or smaller blocks)");
  uint32_t bits = 0;
  cpu::rand_bits(&bits, 1, seed, kBlockSplitOffset, nullptr);
  // In [0, min(every, blocks)): the validation part holds at least one block.
  const int64_t phase = static_cast<int64_t>(
      (static_cast<uint64_t>(bits) * static_cast<uint64_t>(std::min(every, file_blocks))) >> 32);
  return {BlockSplit{every, phase, false}, BlockSplit{every, phase, true}};
}

// --- StreamedRows ---------------------------------------------------------------------------

StreamedRows::StreamedRows(std::shared_ptr<const RowFiles> files, StreamOptions options)
    : files_(std::move(files)), options_(std::move(options)) {
  AE_CHECK(files_ != nullptr, "StreamedRows: no files");
  const int64_t f = files_->features();
  const int64_t row_bytes = f * static_cast<int64_t>(sizeof(float));
  AE_CHECK(options_.block_bytes > 0, "StreamedRows: block_bytes must be positive, got ",
           options_.block_bytes);
  block_rows_ = std::max<int64_t>(1, options_.block_bytes / row_bytes);
  const int64_t file_blocks = (files_->rows() + block_rows_ - 1) / block_rows_;
  blocks_ = options_.part.count(file_blocks);
  AE_CHECK(blocks_ > 0, files_->path(), ": the part to stream holds no block of ", block_rows_,
           " rows");
  rows_ = (blocks_ - 1) * block_rows_ + block_size(blocks_ - 1);
  const int64_t block_bytes = block_rows_ * row_bytes;
  window_blocks_ = options_.buffer_bytes / 2 / block_bytes;
  AE_CHECK(window_blocks_ >= 1, files_->path(), ": a buffer of ", options_.buffer_bytes,
           " bytes cannot hold two blocks of ", block_rows_, " rows of ", f, " features (",
           block_bytes, " bytes each); raise the buffer to at least ",
           (2 * block_bytes + (1 << 20) - 1) >> 20, " MiB");
  plan_.emplace(rows_, block_rows_, window_blocks_, options_.seed, options_.shuffle);
  if (options_.normalizer) {
    AE_CHECK(options_.normalizer->features() == f, files_->path(), ": a normaliser of ",
             options_.normalizer->features(), " features for rows of ", f);
    normalizer_.emplace(*options_.normalizer, options_.device, DType::f32);
  }
}

void StreamedRows::start_reader() {
  // Started by the first seek or read: a source only asked for stored_rows reads nothing ahead.
  if (!thread_.joinable()) thread_ = std::thread([this] { reader(); });
}

StreamedRows::~StreamedRows() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!options_.device.is_cuda()) return;
  try {
    const Backend& be = backend(options_.device);
    for (Staging& st : staging_) {
      if (st.event != nullptr) be.event_synchronize(st.event);  // no copy may still read it
      be.event_destroy(st.event);
      be.host_free(st.host);
    }
  } catch (const std::exception& e) {  // a destructor reports, it does not throw
    std::fprintf(stderr, "ae: releasing the stream's page-locked buffers failed: %s\n", e.what());
  }
}

int64_t StreamedRows::block_size(int64_t block) const {
  const int64_t first = file_row(block);
  return std::min(files_->rows(), first + block_rows_) - first;
}

RowOrder StreamedRows::order() const {
  return RowOrder{options_.shuffle ? OrderKind::block_shuffled : OrderKind::sequential,
                  options_.seed, block_rows_, window_blocks_};
}

void StreamedRows::fill(Slot& slot, const std::vector<int64_t>& blocks) const {
  const int64_t f = files_->features();
  int64_t rows = 0;
  for (int64_t b : blocks) rows += block_size(b);
  slot.rows.resize(static_cast<size_t>(rows * f));
  float* out = slot.rows.data();
  for (int64_t b : blocks) {
    files_->read(file_row(b), block_size(b), out);
    out += block_size(b) * f;
  }
}

void StreamedRows::reader() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    Slot* slot = nullptr;
    changed_.wait(lock, [&] {
      if (stop_) return true;
      if (error_ || next_window_ >= plan_->windows()) return false;
      for (Slot& s : slots_)
        if (s.window < 0) slot = &s;
      return slot != nullptr;
    });
    if (stop_) return;
    const int64_t w = next_window_++;
    slot->window = w;
    slot->ready = false;
    filling_ = true;  // seek_epoch waits for it: the plan stays as it is meanwhile
    lock.unlock();
    std::exception_ptr failure;
    try {
      slot->shuffle = plan_->window_shuffle(w);
      fill(*slot, plan_->window_blocks(w));
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    filling_ = false;
    if (failure)
      error_ = failure;
    else
      slot->ready = true;
    changed_.notify_all();
  }
}

void StreamedRows::seek_epoch(int64_t epoch) {
  AE_CHECK(epoch >= 0, files_->path(), ": epoch ", epoch, " is negative");
  start_reader();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !filling_; });
    // The sequential order is the same every epoch: the first windows, already read, are kept
    // (a validation part that fits in the buffer is read once).
    next_window_ = 0;
    const bool keep = !options_.shuffle && !error_;
    for (int64_t w : {0, 1})
      for (Slot& s : slots_)
        if (keep && s.ready && s.window == w && next_window_ == w) ++next_window_;
    for (Slot& s : slots_)
      if (!(keep && s.ready && s.window < next_window_)) s = Slot{-1, false, std::move(s.rows), {}};
    plan_->seek_epoch(epoch);
    error_ = nullptr;
    last_lo_ = 0;
  }
  changed_.notify_all();
}

Tensor StreamedRows::read(int64_t lo, int64_t hi) {
  AE_CHECK(0 <= lo && lo < hi && hi <= rows_, files_->path(), ": rows [", lo, ", ", hi,
           ") outside [0, ", rows_, ")");
  AE_CHECK(lo >= last_lo_, files_->path(), ": rows [", lo, ", ", hi,
           ") read after rows from ", last_lo_, "; a stream reads forward within an epoch");
  const int64_t w0 = plan_->window_of(lo), w1 = plan_->window_of(hi - 1);
  AE_CHECK(w1 <= w0 + 1, files_->path(), ": rows [", lo, ", ", hi, ") span ", w1 - w0 + 1,
           " windows of the stream's buffer (", block_rows_ * window_blocks_,
           " rows each); a batch must fit in half the buffer: raise it");
  last_lo_ = lo;
  start_reader();
  const Slot* s0 = nullptr;
  const Slot* s1 = nullptr;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      bool released = false;
      for (Slot& s : slots_)
        if (s.ready && s.window < w0) {
          s.window = -1;
          s.ready = false;
          released = true;
        }
      if (released) changed_.notify_all();
      if (error_) std::rethrow_exception(error_);
      s0 = s1 = nullptr;
      for (const Slot& s : slots_) {
        if (s.ready && s.window == w0) s0 = &s;
        if (s.ready && s.window == w1) s1 = &s;
      }
      if (s0 && s1) break;
      changed_.wait(lock);
    }
  }
  // The reader fills only free slots: these two stay as they are until a later read frees them.
  const int64_t f = files_->features();
  const size_t bytes = static_cast<size_t>((hi - lo) * f) * sizeof(float);
  const Device device = options_.device;
  Tensor x;
  Staging* staging = nullptr;
  float* dst = nullptr;
  if (device.is_cuda()) {
    const Backend& be = backend(device);
    staging = &staging_[next_staging_];
    next_staging_ ^= 1;
    if (staging->event == nullptr) staging->event = be.event_create(stream(device));
    else be.event_synchronize(staging->event);  // its last copy has left the buffer
    if (staging->bytes < bytes) {
      be.host_free(staging->host);
      staging->host = nullptr;
      staging->bytes = 0;
      staging->host = be.host_alloc(bytes);
      staging->bytes = bytes;
    }
    dst = static_cast<float*>(staging->host);
  } else {
    x = Tensor::empty(Shape{hi - lo, f}, DType::f32, Device::cpu());
    dst = static_cast<float*>(x.data());
  }
  for (int64_t p = lo; p < hi; ++p, dst += f) {
    const Slot& s = p < plan_->window_start(w1) ? *s0 : *s1;
    const int64_t i = p - plan_->window_start(s.window);
    const int64_t row = s.shuffle.empty() ? i : s.shuffle[static_cast<size_t>(i)];
    std::memcpy(dst, s.rows.data() + row * f, static_cast<size_t>(f) * sizeof(float));
  }
  if (staging != nullptr) {
    const Backend& be = backend(device);
    x = Tensor::empty(Shape{hi - lo, f}, DType::f32, device);
    be.copy(x.data(), staging->host, bytes, CopyKind::host_to_device, stream(device));
    be.event_record(staging->event, stream(device));
  }
  if (normalizer_) {
    NoGradGuard no_grad;
    x = normalizer_->apply(x);
  }
  return x.to(options_.dtype);
}

Tensor StreamedRows::stored_rows(int64_t first, int64_t count) const {
  AE_CHECK(first >= 0 && count > 0 && first + count <= rows_, files_->path(), ": rows [", first,
           ", ", first + count, ") outside [0, ", rows_, ")");
  const int64_t f = files_->features();
  Tensor x = Tensor::empty(Shape{count, f}, DType::f32, Device::cpu());
  float* out = static_cast<float*>(x.data());
  for (int64_t p = first; p < first + count;) {
    const int64_t block = p / block_rows_, in_block = p % block_rows_;
    const int64_t n = std::min(first + count - p, block_size(block) - in_block);
    files_->read(file_row(block) + in_block, n, out);
    out += n * f;
    p += n;
  }
  return x;
}

FeatureMoments stream_moments(RowSource& rows) {
  FeatureMoments m;
  rows.seek_epoch(0);
  const int64_t n = rows.size();
  // A chunk that any source's window holds (StreamedRows' windows hold at least a block).
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(4096, n));
  int64_t step = chunk;
  if (auto* streamed = dynamic_cast<StreamedRows*>(&rows)) step = streamed->block_rows();
  for (int64_t lo = 0; lo < n; lo += step) {
    const Tensor x = rows.read(lo, std::min(n, lo + step)).to(Device::cpu()).to(DType::f32);
    m.add(static_cast<const float*>(x.data()), x.size(0), x.size(1));
  }
  return m;
}

}  // namespace ae::models
