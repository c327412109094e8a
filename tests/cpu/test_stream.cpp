// Streaming rows from files (data/stream.h): the block reader gives read_npy's values, shards
// are checked up front, a streamed epoch is the in-memory epoch of the same block order, training
// on either gives the same parameters bit for bit, and the one-pass statistics match the
// two-pass ones.
#include <bit>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "models/autoencoder.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "data/stream.h"
#include "train/trainer.h"
#include "tests/common/io_testing.h"
#include "tests/common/step_models.h"
#include "tests/common/testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using io::test::TempDir;
using testing::error_of;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// (n, f) rows whose value (i, j) is i + j / 1000: a row says which it is.
std::vector<float> numbered(int64_t n, int64_t f, int64_t first = 0) {
  std::vector<float> v(static_cast<size_t>(n * f));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) v[i * f + j] = static_cast<float>(first + i) + j / 1000.0f;
  return v;
}

std::vector<float> floats(const Tensor& t) { return t.to_floats(); }

// The rows of a source's epoch read in batches (the trainer's reads).
std::vector<float> epoch_values(RowSource& rows, int64_t epoch, int64_t batch) {
  rows.seek_epoch(epoch);
  std::vector<float> all;
  for (int64_t lo = 0; lo < rows.size(); lo += batch) {
    const std::vector<float> v = floats(rows.read(lo, std::min(rows.size(), lo + batch)));
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::shared_ptr<RowFiles> open(const std::string& path) { return std::make_shared<RowFiles>(path); }

TEST(StreamFiles, BlocksReadTheValuesReadNpyReads) {
  TempDir dir;
  const std::vector<float> v = numbered(37, 5);
  io::write_npy(dir.path("a.npy"), {37, 5}, v.data());
  std::vector<int64_t> ints(24);
  std::iota(ints.begin(), ints.end(), -7);
  io::write_npy(dir.path("i.npy"), {4, 3, 2}, ints.data());  // 3-d: pictures of 3x2

  RowFiles a(dir.path("a.npy"));
  EXPECT_EQ(a.rows(), 37);
  EXPECT_EQ(a.features(), 5);
  std::vector<float> got(9 * 5);
  a.read(11, 9, got.data());
  EXPECT_EQ(got, std::vector<float>(v.begin() + 55, v.begin() + 100));

  RowFiles i(dir.path("i.npy"));
  EXPECT_EQ(i.features(), 6);
  EXPECT_EQ(i.image_h(), 3);
  EXPECT_EQ(i.image_w(), 2);
  std::vector<float> rows(24);
  i.read(0, 4, rows.data());
  EXPECT_EQ(rows, io::read_npy(dir.path("i.npy")).data);
}

TEST(StreamFiles, AFolderOfShardsIsTheirRowsInNameOrder) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("npy"));
  std::filesystem::create_directory(dir.path("st"));
  const int64_t sizes[] = {7, 1, 12};
  int64_t first = 0;
  for (int s = 0; s < 3; ++s) {
    const std::vector<float> v = numbered(sizes[s], 4, first);
    io::write_npy(dir.path("npy/part-" + std::to_string(s) + ".npy"), {sizes[s], 4}, v.data());
    io::write_safetensors(dir.path("st/part-" + std::to_string(s) + ".safetensors"),
                          {io::safetensor_f32("x", {sizes[s], 4}, v.data())});
    first += sizes[s];
  }
  for (const char* folder : {"npy", "st"}) {
    RowFiles f(dir.path(folder));
    EXPECT_EQ(f.shards(), 3);
    EXPECT_EQ(f.rows(), 20);
    std::vector<float> got(10 * 4);
    f.read(5, 10, got.data());  // across all three shards
    EXPECT_EQ(got, numbered(10, 4, 5)) << folder;
  }
}

TEST(StreamFiles, ShardsThatDoNotFitAreRefusedUpFrontNamingTheFile) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("mixed"));
  const std::vector<float> v = numbered(6, 4);
  io::write_npy(dir.path("mixed/a.npy"), {6, 4}, v.data());
  io::write_npy(dir.path("mixed/b.npy"), {4, 6}, v.data());
  std::string e = error_of([&] { RowFiles f(dir.path("mixed")); });
  EXPECT_TRUE(contains(e, "b.npy: shape (4, 6) does not match the first shard's (6, 4)")) << e;

  std::filesystem::remove(dir.path("mixed/b.npy"));
  io::test::write_raw(dir.path("mixed/c.npy"), std::vector<uint8_t>{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
  e = error_of([&] { RowFiles f(dir.path("mixed")); });
  EXPECT_TRUE(contains(e, "c.npy: .npy file truncated")) << e;

  io::write_safetensors(dir.path("two.safetensors"), {io::safetensor_f32("a", {6, 4}, v.data()),
                                                      io::safetensor_f32("b", {6, 4}, v.data())});
  e = error_of([&] { RowFiles f(dir.path("two.safetensors")); });
  EXPECT_TRUE(contains(e, "two.safetensors: holds 2 tensors (a, b) and none named 'x'")) << e;
  RowFiles b(dir.path("two.safetensors"), "b");  // named by key (--npz-key)
  EXPECT_EQ(b.rows(), 6);
  e = error_of([&] { RowFiles f(dir.path("two.safetensors"), "c"); });
  EXPECT_TRUE(contains(e, "two.safetensors: no tensor 'c' (it holds a, b)")) << e;

  std::vector<float> bad = v;
  bad[9] = NAN;
  io::write_npy(dir.path("nan.npy"), {6, 4}, bad.data());
  StreamedRows rows(open(dir.path("nan.npy")), StreamOptions{});
  e = error_of([&] { rows.read(0, 6); });
  EXPECT_TRUE(contains(e, "nan.npy: row 2 (from 0), feature 1: nan is not a finite number")) << e;
}

// float16 bits of small integers and halves and of infinities, computed here without ae: v = k / 2
// for |k| < 2048 is exact in float16, with bits sign | (e + 15) << 10 | mantissa.
uint16_t f16_bits(float v) {
  if (v == 0) return std::signbit(v) ? 0x8000 : 0;
  if (std::isinf(v)) return v > 0 ? 0x7C00 : 0xFC00;
  const uint32_t f = std::bit_cast<uint32_t>(v);  // float32 -> float16 for normal, exact values
  return static_cast<uint16_t>(((f >> 16) & 0x8000) | ((((f >> 23) & 0xFF) - 112) << 10) |
                               ((f >> 13) & 0x3FF));
}

// (n, f) rows whose value (i, j) is (first + i) / 2 - j, all exact in float16 and bfloat16.
std::vector<float> halves(int64_t n, int64_t f, int64_t first = 0) {
  std::vector<float> v(static_cast<size_t>(n * f));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) v[i * f + j] = static_cast<float>(first + i) / 2 - j;
  return v;
}

void write_f16_npy(const std::string& path, int64_t rows, int64_t cols, const float* v) {
  std::vector<uint16_t> bits(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = f16_bits(v[i]);
  io::test::write_raw(path, io::test::npy_bytes(cat("{'descr': '<f2', 'fortran_order': False, "
                                                    "'shape': (", rows, ", ", cols, "), }"),
                                                io::test::le16(bits)));
}

io::SafeTensor half_tensor(const char* dtype, int64_t rows, int64_t cols, const float* v) {
  std::vector<uint16_t> bits(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < bits.size(); ++i)
    bits[i] = std::string(dtype) == "F16" ? f16_bits(v[i])
                                          : static_cast<uint16_t>(std::bit_cast<uint32_t>(v[i]) >> 16);
  return io::SafeTensor{"x", dtype, {rows, cols}, io::test::le16(bits)};
}

TEST(StreamFiles, Float16ShardsInMemoryAndStreamedAreTheRowsOfOneFile) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("npy"));
  std::filesystem::create_directory(dir.path("f16"));
  std::filesystem::create_directory(dir.path("bf16"));
  const int64_t sizes[] = {7, 1, 13}, f = 3;  // odd rows and width
  int64_t first = 0;
  for (int s = 0; s < 3; ++s) {
    const std::vector<float> v = halves(sizes[s], f, first);
    const std::string name = "part-" + std::to_string(s);
    write_f16_npy(dir.path("npy/" + name + ".npy"), sizes[s], f, v.data());
    io::write_safetensors(dir.path("f16/" + name + ".safetensors"),
                          {half_tensor("F16", sizes[s], f, v.data())});
    io::write_safetensors(dir.path("bf16/" + name + ".safetensors"),
                          {half_tensor("BF16", sizes[s], f, v.data())});
    first += sizes[s];
  }
  const std::vector<float> all = halves(21, f);
  write_f16_npy(dir.path("one.npy"), 21, f, all.data());
  EXPECT_EQ(load_npy(dir.path("one.npy")).x.to_floats(), all);
  for (const char* source : {"one.npy", "npy", "f16", "bf16"}) {
    const Dataset d = load_rows(dir.path(source));
    EXPECT_EQ(d.x.shape(), (Shape{21, f})) << source;
    EXPECT_EQ(floats(d.x), all) << source;
    StreamOptions o;
    o.block_bytes = 2 * f * 4;  // blocks of 2 rows: reads across the shards
    o.buffer_bytes = 8 * o.block_bytes;
    o.shuffle = false;
    StreamedRows rows(open(dir.path(source)), o);
    EXPECT_EQ(epoch_values(rows, 0, 5), all) << source;
  }
}

TEST(StreamFiles, HalfShardsOfOtherWidthsOrNonFiniteValuesAreRefused) {
  TempDir dir;
  std::filesystem::create_directory(dir.path("mixed"));
  const std::vector<float> v = halves(5, 4);
  write_f16_npy(dir.path("mixed/a.npy"), 5, 4, v.data());
  write_f16_npy(dir.path("mixed/b.npy"), 4, 5, v.data());
  const std::string e = error_of([&] { load_rows(dir.path("mixed")); });
  EXPECT_TRUE(contains(e, "b.npy: shape (4, 5) does not match the first shard's (5, 4)")) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;

  // +inf (0x7C00) at row 3, feature 2 of the second shard; bfloat16 NaN likewise.
  std::filesystem::remove(dir.path("mixed/b.npy"));
  std::vector<float> bad = v;
  bad[3 * 4 + 2] = INFINITY;
  write_f16_npy(dir.path("mixed/b.npy"), 5, 4, bad.data());
  const std::string want = "b.npy: row 3 (from 0), feature 2: inf is not a finite number";
  EXPECT_TRUE(contains(error_of([&] { load_rows(dir.path("mixed")); }), want));
  StreamedRows rows(open(dir.path("mixed")), StreamOptions{});
  EXPECT_TRUE(contains(error_of([&] { rows.read(0, 10); }), want));
  bad[3 * 4 + 2] = NAN;
  io::write_safetensors(dir.path("nan.safetensors"), {half_tensor("BF16", 5, 4, bad.data())});
  EXPECT_TRUE(contains(error_of([&] { load_rows(dir.path("nan.safetensors")); }),
                       "nan.safetensors: row 3 (from 0), feature 2: nan is not a finite number"));
}

TEST(StreamSplit, EveryKthBlockIsHeldOutTheRestTrains) {
  for (int64_t blocks : {2, 3, 10, 31}) {
    const auto [train, val] = block_split(blocks, 0.25, 5, "data");
    EXPECT_EQ(train.every, 4);
    std::vector<int> seen(static_cast<size_t>(blocks), 0);
    for (int64_t i = 0; i < train.count(blocks); ++i) ++seen[train.file_block(i)];
    for (int64_t i = 0; i < val.count(blocks); ++i) {
      EXPECT_EQ(val.file_block(i) % 4, val.phase);
      ++seen[val.file_block(i)];
    }
    EXPECT_GE(val.count(blocks), 1);
    EXPECT_EQ(seen, std::vector<int>(static_cast<size_t>(blocks), 1)) << blocks << " blocks";
  }
  EXPECT_TRUE(contains(error_of([] { block_split(1, 0.1, 0, "d.npy"); }), "d.npy: its rows form 1"));
}

// A streamed part of a file, and the same rows in memory with the same order.
struct Pair {
  std::unique_ptr<StreamedRows> streamed;
  std::unique_ptr<InMemoryRows> memory;
};

Pair both(const std::shared_ptr<RowFiles>& files, StreamOptions o) {
  Pair p;
  p.streamed = std::make_unique<StreamedRows>(files, o);
  Tensor rows = p.streamed->stored_rows(0, p.streamed->size());
  if (o.normalizer) rows = o.normalizer->apply(rows);
  p.memory = std::make_unique<InMemoryRows>(rows, Device::cpu(), p.streamed->order());
  return p;
}

TEST(StreamRows, AStreamedEpochIsTheInMemoryEpochOfTheSameOrder) {
  TempDir dir;
  const int64_t n = 1003, f = 6;
  const std::vector<float> v = numbered(n, f);
  io::write_npy(dir.path("d.npy"), {n, f}, v.data());
  const auto files = open(dir.path("d.npy"));
  StreamOptions o;
  o.block_bytes = 10 * f * 4;        // blocks of 10 rows
  o.buffer_bytes = 2 * 7 * 10 * f * 4;  // windows of 7 blocks
  o.seed = 3;
  o.part = block_split(101, 0.2, 1, "d").first;
  Pair p = both(files, o);
  EXPECT_EQ(p.streamed->block_rows(), 10);
  EXPECT_EQ(p.streamed->window_blocks(), 7);
  for (int64_t epoch : {0, 1, 5})
    for (int64_t batch : {1, 64, 70})
      EXPECT_EQ(epoch_values(*p.streamed, epoch, batch), epoch_values(*p.memory, epoch, batch))
          << "epoch " << epoch << ", batch " << batch;
  // Every row of the part, once.
  std::vector<float> firsts;
  const std::vector<float> all = epoch_values(*p.streamed, 2, 50);
  for (size_t i = 0; i < all.size(); i += f) firsts.push_back(all[i]);
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(std::adjacent_find(firsts.begin(), firsts.end()), firsts.end());

  // A rank's slice of each global batch is those rows of the batch.
  p.streamed->seek_epoch(1);
  p.memory->seek_epoch(1);
  for (int64_t lo = 0; lo + 64 <= p.streamed->size(); lo += 64)
    EXPECT_EQ(floats(p.streamed->read(lo + 16, lo + 32)), floats(p.memory->read(lo + 16, lo + 32)));

  // The held-out part, sequential: its blocks in file order.
  StreamOptions held = o;
  held.shuffle = false;
  held.part = block_split(101, 0.2, 1, "d").second;
  StreamedRows val(files, held);
  EXPECT_EQ(val.size() + p.streamed->size(), n);
  const std::vector<float> first_block = floats(val.read(0, 10));
  const int64_t b = held.part.file_block(0);
  EXPECT_EQ(first_block, numbered(10, f, b * 10));
  val.read(10, 20);
  const std::string e = error_of([&] { val.read(0, 5); });
  EXPECT_TRUE(contains(e, "read after rows from 10")) << e;  // forward only within an epoch
  val.seek_epoch(1);
  EXPECT_EQ(floats(val.read(0, 10)), first_block);
  EXPECT_TRUE(contains(error_of([&] { val.read(10, 160); }), "a batch must fit in half the buffer"));
}

TEST(StreamRows, TrainingOnTheStreamGivesTheInMemoryParametersBitForBit) {
  TempDir dir;
  const int64_t n = 1500, f = 64;
  const Tensor x = ae::testing::shapes_rows(n, 4);
  std::vector<float> raw = x.to_floats();
  for (float& value : raw) value = value * 40 - 7;  // outside [0, 1]: standardised
  io::write_npy(dir.path("shapes.npy"), {n, f}, raw.data());
  const auto files = open(dir.path("shapes.npy"));

  StreamOptions o;
  o.block_bytes = 16 * f * 4;
  o.buffer_bytes = 2 * 5 * 16 * f * 4;  // windows of 5 blocks: 80 rows, batches span two
  o.seed = 9;
  const auto [train_part, val_part] = block_split((n + 15) / 16, 0.1, 2, "shapes");
  o.part = train_part;
  StreamOptions stats = o;
  stats.shuffle = false;
  StreamedRows unnormalised(files, stats);
  o.normalizer = normalizer_from(stream_moments(unnormalised), NormKind::standardize);
  StreamOptions held = o;
  held.shuffle = false;
  held.part = val_part;

  std::vector<std::vector<float>> params[2];
  for (int mode = 0; mode < 2; ++mode) {
    Pair train = both(files, o), val = both(files, held);
    AutoencoderConfig c;
    c.widths = {f, 24, 6};
    c.noise = {NoiseKind::masking, 0.2};  // the noise stream too
    Autoencoder model(c, 5, Device::cpu());
    TrainerConfig t = test::quick_trainer(3, 3e-3);
    if (mode == 0)
      Trainer(t).fit(model, *train.streamed, val.streamed.get());
    else
      Trainer(t).fit(model, *train.memory, val.memory.get());
    for (const Parameter& p : model.parameters()) params[mode].push_back(p.value.to_floats());
  }
  EXPECT_EQ(params[0], params[1]);
}

TEST(StreamStats, OnePassMatchesTwoPassesAndStaysAccurateFarFromZero) {
  const int64_t n = 3001, f = 3;
  std::vector<float> v(static_cast<size_t>(n * f));
  const Tensor noise = Tensor::randn({n, f}, 7, 0, DType::f32, Device::cpu());
  const std::vector<float> z = noise.to_floats();
  for (int64_t i = 0; i < n; ++i) {
    v[i * f + 0] = z[i * f];                                 // N(0, 1)
    v[i * f + 1] = 3.0f;                                     // constant
    v[i * f + 2] = 1e4f + static_cast<float>(i % 7) / 8.0f;  // a large offset, small spread
  }
  FeatureMoments m;
  for (int64_t lo = 0; lo < n; lo += 250)  // blocks, as a stream reads them
    m.add(v.data() + lo * f, std::min<int64_t>(250, n - lo), f);
  const Tensor x = Tensor::from_host(v, {n, f}, Device::cpu());
  const Normalizer two_pass = fit_normalizer(x, NormKind::standardize);
  const Normalizer one_pass = normalizer_from(m, NormKind::standardize);
  for (int64_t j = 0; j < f; ++j) {
    EXPECT_NEAR(one_pass.shift[j], two_pass.shift[j], 1e-12 * std::abs(two_pass.shift[j]) + 1e-15);
    EXPECT_NEAR(one_pass.scale[j], two_pass.scale[j], 1e-10 * two_pass.scale[j]);
  }
  // Feature 2's variance exactly: i % 7 / 8 over 3001 rows (a float32 sum of squares would lose it).
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i) mean += 1e4 + (i % 7) / 8.0;
  mean /= n;
  for (int64_t i = 0; i < n; ++i) var += std::pow(1e4 + (i % 7) / 8.0 - mean, 2);
  EXPECT_NEAR(m.m2[2] / n, var / n, 1e-12);
  EXPECT_EQ(one_pass.scale[1], 1.0);  // the constant feature is only centred
  const Normalizer mm = normalizer_from(m, NormKind::min_max);
  const Normalizer mm_ref = fit_normalizer(x, NormKind::min_max);
  EXPECT_EQ(mm.shift, mm_ref.shift);
  EXPECT_EQ(mm.scale, mm_ref.scale);
  EXPECT_EQ(choose_normalization(m).reason, choose_normalization(x).reason);
}

}  // namespace
}  // namespace ae::models
