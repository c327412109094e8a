// Datasets: MNIST and file loading, the synthetic shapes, normalisation, splits and batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/autoencoder.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "data/npy.h"
#include "train/optim.h"
#include "analysis/pca.h"
#include "tests/common/io_testing.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using io::test::contains;
using io::test::error_of;
using io::test::TempDir;

// n samples of f features where x[i][0] = i, so a row tells which sample it is.
Dataset numbered(int64_t n, int64_t f) {
  std::vector<float> v(n * f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) v[i * f + j] = j == 0 ? i : std::sin(i * 0.37 + j);
  Dataset d;
  d.x = Tensor::from_host(v, {n, f}, Device::cpu());
  d.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) d.labels[i] = i % 7;
  d.name = "numbered";
  return d;
}

std::vector<int64_t> ids(const Dataset& d) {
  std::vector<float> v = d.x.to_floats();
  std::vector<int64_t> out(d.size());
  for (int64_t i = 0; i < d.size(); ++i) out[i] = static_cast<int64_t>(v[i * d.features()]);
  return out;
}

// Leave-one-out k-nearest-neighbour accuracy of the codes z (n, dim) for the first `queries`
// samples: how well the classes separate, without assuming they are convex.
double knn_accuracy(const std::vector<float>& z, const std::vector<int64_t>& labels, int64_t dim,
                    int64_t queries, int k = 5) {
  const int64_t n = static_cast<int64_t>(labels.size());
  int64_t right = 0;
  for (int64_t i = 0; i < queries; ++i) {
    std::vector<std::pair<double, int64_t>> near;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double d2 = 0;
      for (int64_t t = 0; t < dim; ++t) d2 += std::pow(z[i * dim + t] - z[j * dim + t], 2);
      near.push_back({d2, labels[j]});
    }
    std::partial_sort(near.begin(), near.begin() + k, near.end());
    std::map<int64_t, int> votes;
    for (int t = 0; t < k; ++t) ++votes[near[t].second];
    auto best = std::max_element(votes.begin(), votes.end(),
                                 [](auto& a, auto& b) { return a.second < b.second; });
    right += best->first == labels[i];
  }
  return static_cast<double>(right) / static_cast<double>(queries);
}

// --- MNIST ----------------------------------------------------------------------------------

TEST(DataMnist, TestSetLoadsWithLabelsInUnitRange) {
  AE_SKIP_WITHOUT_MNIST();
  Dataset d = load_mnist(AE_MNIST_DIR);
  validate(d);
  EXPECT_EQ(d.name, "mnist-t10k");
  ASSERT_EQ(d.x.shape(), Shape({10000, 784}));
  EXPECT_EQ(d.image_h, 28);
  EXPECT_EQ(d.image_w, 28);
  ASSERT_EQ(d.labels.size(), 10000u);
  EXPECT_EQ(d.labels[0], 7);  // the first test digit is a 7
  EXPECT_EQ(*std::min_element(d.labels.begin(), d.labels.end()), 0);
  EXPECT_EQ(*std::max_element(d.labels.begin(), d.labels.end()), 9);
  std::vector<float> v = d.x.to_floats();
  EXPECT_EQ(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 1.0f);
  // Pixels are k/255: scaled, not clipped or rounded.
  for (size_t i = 0; i < v.size(); i += 97) EXPECT_FLOAT_EQ(v[i] * 255, std::round(v[i] * 255));

  // The images file alone finds its labels file beside it.
  std::string images = std::string(AE_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(images)) images.resize(images.size() - 3);
  Dataset same = load_mnist(images);
  EXPECT_EQ(same.labels, d.labels);
  EXPECT_EQ(same.x.to_floats(), v);
}

TEST(DataMnist, FolderWithoutImagesIsAnError) {
  TempDir dir;
  EXPECT_TRUE(contains(error_of([&] { load_mnist(dir.path("")); }), "no MNIST images"));
}

// --- files ----------------------------------------------------------------------------------

TEST(DataFiles, NpyWithLabelsAndPictures) {
  TempDir dir;
  std::vector<float> x(3 * 2 * 2);
  std::iota(x.begin(), x.end(), 0.0f);
  io::write_npy(dir.path("x.npy"), {3, 2, 2}, x.data());
  std::vector<int64_t> labels{4, 0, 2};
  io::write_npy(dir.path("y.npy"), {3}, labels.data());
  Dataset d = load_npy(dir.path("x.npy"), dir.path("y.npy"));
  validate(d);
  EXPECT_EQ(d.x.shape(), Shape({3, 4}));
  EXPECT_EQ(d.image_h, 2);
  EXPECT_EQ(d.image_w, 2);
  EXPECT_EQ(d.labels, labels);
  EXPECT_EQ(d.x.to_floats(), x);
}

// (N, H, W, C), as colour pictures are saved: N samples of H x W x C values, channels last.
TEST(DataFiles, FourDimensionalArraysArePicturesWithChannels) {
  TempDir dir;
  std::vector<float> x(2 * 3 * 2 * 4);
  std::iota(x.begin(), x.end(), 0.0f);
  io::write_npy(dir.path("x.npy"), {2, 3, 2, 4}, x.data());
  Dataset d = load_npy(dir.path("x.npy"));
  validate(d);
  EXPECT_EQ(d.x.shape(), Shape({2, 24}));
  EXPECT_EQ(d.image_h, 3);
  EXPECT_EQ(d.image_w, 2);
  EXPECT_EQ(d.image_c, 4);
  EXPECT_EQ(d.x.to_floats(), x);
  // Subsets keep the shape; a shape that does not match the features is refused.
  const Dataset s = select(d, {1});
  EXPECT_EQ(s.image_c, 4);
  d.image_c = 3;
  EXPECT_TRUE(contains(error_of([&] { validate(d); }), "image 3x2x3 does not match 24 features"));
  // Labels from another array of the same .npz; a key that names none, or a .npy for one.
  const std::string npz = std::string(AE_SOURCE_DIR) + "/tests/data/files/two_arrays.npz";
  const Dataset t = load_npz(npz, "features", "", "labels");
  EXPECT_EQ(t.size(), 40);
  EXPECT_EQ(t.labels.size(), 40u);
  EXPECT_TRUE(contains(error_of([&] { load_npz(npz, "features", "", "nothing"); }),
                       "two_arrays.npz: no array 'nothing' (it holds features and labels)"));
  EXPECT_TRUE(contains(error_of([&] { load_npy(dir.path("x.npy"), dir.path("x.npy"), "y"); }),
                       "x.npy: not a .npz archive, so it has no array 'y' for the labels"));
}

TEST(DataFiles, NonFiniteValuesNameTheFileAndRow) {
  TempDir dir;
  std::vector<float> x{0, 1, 2, 3, 4, std::nanf(""), 6, 7};
  io::write_npy(dir.path("bad.npy"), {4, 2}, x.data());
  std::string msg = error_of([&] { load_npy(dir.path("bad.npy")); });
  EXPECT_TRUE(contains(msg, "bad.npy")) << msg;
  EXPECT_TRUE(contains(msg, "row 2")) << msg;
  x[5] = INFINITY;
  io::write_npy(dir.path("inf.npy"), {4, 2}, x.data());
  EXPECT_TRUE(contains(error_of([&] { load_npy(dir.path("inf.npy")); }), "row 2"));
}

TEST(DataFiles, EmptyDataAndMismatchedLabelsAreErrors) {
  TempDir dir;
  float none = 0;
  io::write_npy(dir.path("empty.npy"), {0, 5}, &none);
  EXPECT_TRUE(contains(error_of([&] { load_npy(dir.path("empty.npy")); }), "no samples"));
  std::vector<float> x(6, 0.5f);
  io::write_npy(dir.path("x.npy"), {3, 2}, x.data());
  std::vector<int64_t> two{1, 2};
  io::write_npy(dir.path("y.npy"), {2}, two.data());
  std::string msg = error_of([&] { load_npy(dir.path("x.npy"), dir.path("y.npy")); });
  EXPECT_TRUE(contains(msg, "2 labels for 3 samples")) << msg;
  std::vector<float> frac{0, 1.5f, 2};
  io::write_npy(dir.path("f.npy"), {3}, frac.data());
  msg = error_of([&] { load_npy(dir.path("x.npy"), dir.path("f.npy")); });
  EXPECT_TRUE(contains(msg, "row 1")) << msg;
  EXPECT_TRUE(contains(msg, "not an integer")) << msg;

  Dataset d = numbered(4, 2);
  d.labels.pop_back();
  EXPECT_TRUE(contains(error_of([&] { validate(d); }), "3 labels for 4 samples"));
}

TEST(DataFiles, CsvLabelColumnBecomesLabels) {
  TempDir dir;
  io::test::write_raw(dir.path("t.csv"), "a,label,b\n1,3,2\n4,0,5\n");
  io::CsvOptions o;
  o.label_name = "label";
  Dataset d = load_csv(dir.path("t.csv"), o);
  EXPECT_EQ(d.x.to_floats(), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(d.labels, (std::vector<int64_t>{3, 0}));
  io::test::write_raw(dir.path("u.csv"), "a,label\n1,0.5\n");
  EXPECT_TRUE(contains(error_of([&] { load_csv(dir.path("u.csv"), o); }), "not an integer"));
}

// --- shapes ---------------------------------------------------------------------------------

TEST(DataShapes, DeterministicPerSeedAndDifferentAcrossSeeds) {
  Dataset a = make_shapes({1000, 7}), b = make_shapes({1000, 7}), c = make_shapes({1000, 8});
  validate(a);
  EXPECT_EQ(a.x.shape(), Shape({1000, 64}));
  EXPECT_EQ(a.image_h, 8);
  EXPECT_EQ(a.x.to_floats(), b.x.to_floats());
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.x.to_floats(), c.x.to_floats());
  EXPECT_NE(a.labels, c.labels);
  std::vector<float> v = a.x.to_floats();
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 1.0f);
  std::vector<int64_t> count(kShapesClasses, 0);
  for (int64_t l : a.labels) ++count.at(l);
  for (int64_t n : count) EXPECT_EQ(n, 250);  // balanced
}

TEST(DataShapes, EachClassIsItsShape) {
  // Without noise or jitter every picture is its class's mask at some intensity.
  Dataset d = make_shapes({8, 3, 0.0, 0});
  std::vector<float> v = d.x.to_floats();
  const std::vector<int64_t> lit{12, 12, 16, 20};  // pixels of bar, bar, 4x4 block, 6x6 frame
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t on = 0;
    for (int64_t p = 0; p < 64; ++p) {
      const float x = v[i * 64 + p];
      EXPECT_TRUE(x == 0 || (x >= 0.75f && x <= 1)) << x;
      on += x > 0;
    }
    EXPECT_EQ(on, lit[d.labels[i]]) << "sample " << i << " label " << d.labels[i];
    // Row 3 is lit across the horizontal bar, column 3 down the vertical one.
    if (d.labels[i] == 0) EXPECT_GT(v[i * 64 + 3 * 8 + 1], 0);
    if (d.labels[i] == 1) EXPECT_GT(v[i * 64 + 1 * 8 + 3], 0);
  }
}

TEST(DataShapes, ATwoDimensionalCodeSeparatesTheClasses) {
  // 5-NN accuracy in 2-D: PCA already beats chance (0.25) clearly; an autoencoder with a 2-unit
  // code separates the four classes almost perfectly after a few hundred steps.
  Dataset d = make_shapes({2000, 0});
  Pca pca = Pca::fit(d.x, 2);
  const double pca_acc = knn_accuracy(pca.transform(d.x).to_floats(), d.labels, 2, 500);
  EXPECT_GT(pca_acc, 0.8);

  AutoencoderConfig config;
  config.widths = {64, 32, 2};
  config.hidden = Activation::sigmoid;
  config.code = Activation::identity;
  config.data = DataKind::binary;
  Autoencoder model(config, 1, Device::cpu());
  std::vector<Tensor> params;
  for (const Parameter& p : model.parameters()) params.push_back(p.value);
  OptimizerConfig oc;
  oc.lr = 1e-2;
  Optimizer opt(params, oc);
  BatchIterator batches(d, 64, Device::cpu(), 3);
  Batch b;
  double first = 0, last = 0;
  for (int epoch = 0; epoch < 20; ++epoch) {
    double total = 0;
    int64_t count = 0;
    while (batches.next(b)) {
      Losses l = model.loss(b.x, {true, opt.steps()});
      l.total.backward();
      opt.step();
      opt.zero_grad();
      total += l.reconstruction.item();
      ++count;
    }
    (epoch == 0 ? first : last) = total / count;
  }
  EXPECT_LT(last, 0.8 * first);  // it learns
  NoGradGuard no_grad;
  const double ae_acc = knn_accuracy(model.encode(d.x).to_floats(), d.labels, 2, 500);
  EXPECT_GT(ae_acc, 0.95);
  std::cout << "shapes 2-D code 5-NN accuracy: pca " << pca_acc << ", autoencoder " << ae_acc
            << " (reconstruction " << first << " -> " << last << ")\n";
}

TEST(DataShapes, BadOptionsAreErrors) {
  EXPECT_TRUE(contains(error_of([] { make_shapes({0}); }), "samples"));
  EXPECT_TRUE(contains(error_of([] { make_shapes({10, 0, 1.5}); }), "noise"));
  EXPECT_TRUE(contains(error_of([] { make_shapes({10, 0, 0.1, 3}); }), "jitter"));
}

// --- normalisation --------------------------------------------------------------------------

TEST(DataNormalize, StandardizeUsesTrainingStatisticsOnValidation) {
  Dataset d = numbered(200, 5);
  // Feature 4 constant: it is only centred.
  std::vector<float> v = d.x.to_floats();
  for (int64_t i = 0; i < 200; ++i) v[i * 5 + 4] = 3.0f;
  d.x = Tensor::from_host(v, {200, 5}, Device::cpu());
  auto [train, val] = split(d, 0.25, 11);
  Normalizer nz = fit_normalizer(train.x, NormKind::standardize);
  ASSERT_EQ(nz.features(), 5);
  std::vector<double> t = nz.apply(train.x).to_vector();
  const int64_t m = train.size();
  for (int64_t j = 0; j < 5; ++j) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < m; ++i) s += t[i * 5 + j];
    for (int64_t i = 0; i < m; ++i) ss += (t[i * 5 + j] - s / m) * (t[i * 5 + j] - s / m);
    EXPECT_NEAR(s / m, 0, 1e-5) << j;
    EXPECT_NEAR(ss / m, j == 4 ? 0 : 1, 1e-5) << j;
  }
  EXPECT_EQ(nz.shift[4], 3.0);
  EXPECT_EQ(nz.scale[4], 1.0);
  // Validation goes through the same map, with the training statistics.
  std::vector<float> raw = val.x.to_floats(), out = nz.apply(val.x).to_floats();
  for (size_t i = 0; i < raw.size(); ++i) {
    const size_t j = i % 5;
    EXPECT_NEAR(out[i], (raw[i] - nz.shift[j]) * nz.scale[j], 1e-4);
  }
  // And back.
  std::vector<float> back = nz.invert(nz.apply(val.x)).to_floats();
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_NEAR(back[i], raw[i], 1e-4 * (1 + std::abs(raw[i])));
}

TEST(DataNormalize, MinMaxMapsEachFeatureToTheUnitInterval) {
  // Features of very different ranges, as in a table of a fraction and an amount in dollars, and
  // a constant one: each column spans [0, 1] on the set it was fitted on (the small one is not
  // squashed by the large one's range), and the constant one maps to 0, finite.
  const int64_t n = 40;
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) {
    const float t = static_cast<float>(i) / (n - 1);
    v.insert(v.end(), {0.2f + 0.01f * t, 5000 - 10000 * t, 7, static_cast<float>(i % 3)});
  }
  const Tensor x = Tensor::from_host(v, {n, 4}, Device::cpu());
  Normalizer nz = fit_normalizer(x, NormKind::min_max);
  const std::vector<double> y = nz.apply(x.to(DType::f64)).to_vector();
  for (int64_t j = 0; j < 4; ++j) {
    double lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(y[i * 4 + j])) << j;
      lo = std::min(lo, y[i * 4 + j]);
      hi = std::max(hi, y[i * 4 + j]);
    }
    EXPECT_NEAR(lo, 0, 1e-6) << j;
    EXPECT_NEAR(hi, j == 2 ? 0 : 1, 1e-6) << j;
  }
  EXPECT_FLOAT_EQ(nz.shift[0], 0.2f);
  EXPECT_DOUBLE_EQ(nz.shift[1], -5000);
  EXPECT_DOUBLE_EQ(nz.scale[1], 1e-4);
  EXPECT_EQ(nz.shift[2], 7);
  EXPECT_EQ(nz.scale[2], 1);
}

TEST(DataNormalize, AutoKeepsUnitIntervalDataAndStandardisesTheRest) {
  // Pixels in [0, 1] stay as they are (a Bernoulli decoder fits them).
  NormChoice keep = choose_normalization(make_shapes({.samples = 50}).x);
  EXPECT_FALSE(keep.kind.has_value());
  EXPECT_TRUE(contains(keep.reason, "kept as they are")) << keep.reason;
  // Anything else is standardised per feature; the reason names the range found.
  const Tensor raw = Tensor::from_host(std::vector<float>{0, 255, 3, 128, 1, 0}, {3, 2}, Device::cpu());
  NormChoice scale = choose_normalization(raw);
  ASSERT_TRUE(scale.kind.has_value());
  EXPECT_EQ(*scale.kind, NormKind::standardize);
  EXPECT_TRUE(contains(scale.reason, "[0, 255]")) << scale.reason;
  const Tensor negative = Tensor::from_host(std::vector<float>{-0.5f, 0.5f}, {2, 1}, Device::cpu());
  EXPECT_EQ(choose_normalization(negative).kind, NormKind::standardize);
}

TEST(DataNormalize, PcaNormalizationMakesXtXTheCovariance) {
  // x̂_ij = (x_ij - mean_j) / sqrt(m): columns sum to zero and x̂ᵀ x̂ = (1/m) Σ (x - mean)(x - mean)ᵀ.
  Dataset d = numbered(64, 4);
  Normalizer nz = fit_normalizer(d.x, NormKind::pca);
  EXPECT_DOUBLE_EQ(nz.scale[0], 1.0 / 8.0);
  Tensor y = nz.apply(d.x.to(DType::f64));
  std::vector<double> col_sum = sum(y, 0).to_vector();
  for (double s : col_sum) EXPECT_NEAR(s, 0, 1e-6);
  std::vector<double> xtx = matmul(y, y, true, false).to_vector();
  std::vector<double> x = d.x.to_vector();
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t b = 0; b < 4; ++b) {
      double cov = 0;
      for (int64_t i = 0; i < 64; ++i)
        cov += (x[i * 4 + a] - nz.shift[a]) * (x[i * 4 + b] - nz.shift[b]) / 64;
      EXPECT_NEAR(xtx[a * 4 + b], cov, 1e-6 * (1 + std::abs(cov)));
    }
}

TEST(DataNormalize, StatisticsSaveAndLoadExactly) {
  TempDir dir;
  Normalizer nz = fit_normalizer(numbered(30, 3).x, NormKind::standardize);
  io::write_safetensors(dir.path("n.safetensors"), nz.to_safetensors(), nz.metadata());
  Normalizer back = Normalizer::load(io::read_safetensors(dir.path("n.safetensors")));
  EXPECT_EQ(back.kind, NormKind::standardize);
  EXPECT_EQ(back.shift, nz.shift);
  EXPECT_EQ(back.scale, nz.scale);
  // min_max: one minimum and range per feature.
  const Tensor mixed = Tensor::from_host(std::vector<float>{0.25f, 900, 0.5f, 12000, 0.75f, -30},
                                         {3, 2}, Device::cpu());
  Normalizer mm = fit_normalizer(mixed, NormKind::min_max);
  io::write_safetensors(dir.path("m.safetensors"), mm.to_safetensors(), mm.metadata());
  Normalizer mm_back = Normalizer::load(io::read_safetensors(dir.path("m.safetensors")));
  EXPECT_EQ(mm_back.kind, NormKind::min_max);
  EXPECT_EQ(mm_back.shift, (std::vector<double>{0.25, -30}));
  EXPECT_EQ(mm_back.scale, mm.scale);
  EXPECT_DOUBLE_EQ(mm_back.scale[0], 2.0);
  EXPECT_TRUE(contains(error_of([&] { Normalizer::load(io::read_safetensors(dir.path("n.safetensors")), "x."); }),
                       "missing"));
  EXPECT_EQ(parse_norm_kind("pca"), NormKind::pca);
  EXPECT_TRUE(contains(error_of([] { parse_norm_kind("zscore"); }), "zscore"));
}

TEST(DataNormalize, NonFiniteValuesAreRefused) {
  Tensor x = Tensor::from_host(std::vector<float>{1, 2, NAN, 4}, {2, 2}, Device::cpu());
  std::string msg = error_of([&] { fit_normalizer(x, NormKind::standardize); });
  EXPECT_TRUE(contains(msg, "row 1")) << msg;
}

// DeviceNormalizer: (x - shift) * scale rounded as the dtype's two operations round, from copies
// taken once when it is made (a later change of the Normalizer does not reach it), and rows of
// another dtype or width refused in one line.
TEST(DataNormalize, DeviceNormalizerKeepsItsCopiesAndMatchesTheFormula) {
  const Normalizer nz{NormKind::standardize, {0.1, -2.5, 1e3}, {3.0, 0.125, 1.0 / 7.0}};
  const std::vector<double> v{0.3, 7.0, -1.0, 1e3, 2.0, 1234.5};
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    const DeviceNormalizer on_cpu(nz, Device::cpu(), dt);
    EXPECT_EQ(on_cpu.device(), Device::cpu());
    EXPECT_EQ(on_cpu.dtype(), dt);
    const Tensor x = Tensor::from_host(v, {2, 3}, Device::cpu()).to(dt);
    const std::vector<double> got = on_cpu.apply(x).to_vector();
    EXPECT_EQ(got, nz.apply(x).to_vector());
    for (size_t i = 0; i < v.size(); ++i) {
      const size_t j = i % 3;
      const double want =
          dt == DType::f32
              ? double{(static_cast<float>(v[i]) - static_cast<float>(nz.shift[j])) * static_cast<float>(nz.scale[j])}
              : (v[i] - nz.shift[j]) * nz.scale[j];
      EXPECT_EQ(got[i], want) << i;
    }
    Normalizer copy = nz;
    const DeviceNormalizer before(copy, Device::cpu(), dt);
    copy.shift = {0, 0, 0};
    EXPECT_EQ(before.apply(x).to_vector(), got);
    EXPECT_NE(DeviceNormalizer(copy, Device::cpu(), dt).apply(x).to_vector(), got);
  }
  const DeviceNormalizer f32(nz, Device::cpu(), DType::f32);
  std::string msg = error_of([&] { f32.apply(Tensor::zeros({2, 3}, DType::f64, Device::cpu())); });
  EXPECT_EQ(msg, "Normalizer(standardize): rows on cpu in float64, but its statistics are on cpu in float32");
  msg = error_of([&] { f32.apply(Tensor::zeros({2, 4}, DType::f32, Device::cpu())); });
  EXPECT_TRUE(contains(msg, "expected (n, 3), got (2, 4)")) << msg;
  Normalizer bad = nz;
  bad.scale.pop_back();
  msg = error_of([&] { DeviceNormalizer(bad, Device::cpu(), DType::f32); });
  EXPECT_EQ(msg, "Normalizer(standardize): 3 shifts but 2 scales");
}

// --- splits and subsets ---------------------------------------------------------------------

TEST(DataSplit, SizesDisjointCompleteAndSeeded) {
  Dataset d = numbered(1001, 3);
  auto [train, val] = split(d, 0.2, 5);
  EXPECT_EQ(val.size(), 200);
  EXPECT_EQ(train.size(), 801);
  std::vector<int64_t> t = ids(train), v = ids(val);
  std::set<int64_t> all(t.begin(), t.end());
  for (int64_t i : v) EXPECT_TRUE(all.insert(i).second) << "sample " << i << " in both parts";
  EXPECT_EQ(all.size(), 1001u);
  // Labels follow their rows.
  for (int64_t i = 0; i < train.size(); ++i) EXPECT_EQ(train.labels[i], t[i] % 7);
  // The same seed gives the same split; another seed another one.
  EXPECT_EQ(ids(split(d, 0.2, 5).second), v);
  EXPECT_NE(ids(split(d, 0.2, 6).second), v);
  EXPECT_TRUE(contains(error_of([&] { split(d, 0.0, 1); }), "validation fraction"));
  EXPECT_TRUE(contains(error_of([&] { split(numbered(3, 1), 0.1, 1); }), "both need"));
}

TEST(DataSplit, SubsetSelectAndFeatures) {
  Dataset d = numbered(10, 4);
  Dataset s = subset(d, 3);
  EXPECT_EQ(ids(s), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(s.labels, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(contains(error_of([&] { subset(d, 11); }), "11 samples out of 10"));
  Dataset p = select(d, {9, 2, 2});
  EXPECT_EQ(ids(p), (std::vector<int64_t>{9, 2, 2}));
  EXPECT_EQ(p.labels, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_TRUE(contains(error_of([&] { select(d, {10}); }), "index 10"));

  // Feature 0 (0..9) varies most; the sines have variance about 1/2.
  std::vector<int64_t> top = highest_variance_features(d.x, 2);
  EXPECT_EQ(top[0], 0);
  Dataset f = select_features(d, {3, 0});
  EXPECT_EQ(f.features(), 2);
  EXPECT_EQ(f.x.to_floats()[1], 0.0f);
  EXPECT_EQ(f.x.to_floats()[3], 1.0f);
}

TEST(DataSplit, PermutationIsSeededAndUniformEnough) {
  std::vector<int64_t> p = permutation(100, 1);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_EQ(permutation(100, 1), p);
  EXPECT_NE(permutation(100, 2), p);
  EXPECT_NE(permutation(100, 1, 1), p);
  // Where element 0 lands over many seeds: each of 4 places about a quarter of the time.
  std::vector<int> where(4, 0);
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    std::vector<int64_t> q = permutation(4, seed);
    ++where[std::find(q.begin(), q.end(), 0) - q.begin()];
  }
  for (int w : where) EXPECT_NEAR(w, 1000, 120);  // 4 sigma of a binomial(4000, 1/4)
}

// --- batches --------------------------------------------------------------------------------

TEST(DataBatches, EveryEpochVisitsEachSampleOnceInANewOrder) {
  Dataset d = numbered(103, 2);
  BatchIterator it(d, 10, Device::cpu(), 9);
  EXPECT_EQ(it.batches_per_epoch(), 11);
  std::vector<std::vector<int64_t>> orders;
  Batch b;
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(it.epoch(), epoch);
    std::vector<int64_t> seen;
    int64_t batches = 0;
    while (it.next(b)) {
      ++batches;
      EXPECT_EQ(b.x.size(0), static_cast<int64_t>(b.indices.size()));
      EXPECT_EQ(b.x.size(0), batches == 11 ? 3 : 10);
      std::vector<float> rows = b.x.to_floats();
      for (size_t i = 0; i < b.indices.size(); ++i) {
        EXPECT_EQ(rows[i * 2], static_cast<float>(b.indices[i]));  // the rows are those samples
        EXPECT_EQ(b.labels[i], b.indices[i] % 7);
      }
      seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    }
    EXPECT_EQ(batches, 11);
    orders.push_back(seen);
    std::sort(seen.begin(), seen.end());
    for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(seen[i], i);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
  // Seeking replays an epoch exactly.
  it.seek_epoch(1);
  std::vector<int64_t> again;
  while (it.next(b)) again.insert(again.end(), b.indices.begin(), b.indices.end());
  EXPECT_EQ(again, orders[1]);
}

TEST(DataBatches, DropLastAndNoShuffle) {
  Dataset d = numbered(25, 2);
  BatchIterator it(d, 10, Device::cpu(), 0, /*shuffle=*/false, /*drop_last=*/true);
  EXPECT_EQ(it.batches_per_epoch(), 2);
  Batch b;
  std::vector<int64_t> seen;
  while (it.next(b)) seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  std::vector<int64_t> first20(20);
  std::iota(first20.begin(), first20.end(), 0);
  EXPECT_EQ(seen, first20);
  EXPECT_TRUE(contains(error_of([&] { BatchIterator(d, 30, Device::cpu(), 0, true, true); }),
                       "drop_last"));
  EXPECT_TRUE(contains(error_of([&] { BatchIterator(d, 0, Device::cpu()); }), "batch size"));
}

}  // namespace
}  // namespace ae::models
