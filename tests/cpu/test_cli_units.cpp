// The pieces under the command line, tested on their own: anomaly statistics, plot
// rasterisation, checkpoints (train/checkpoint.h) and the run configuration.
#ifdef AE_CLI_PATH
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <tuple>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/random.h"
#include "train/checkpoint.h"
#include "analysis/plot.h"
#include "train/trainer.h"
#include "analysis/metrics.h"
#include "run/config.h"
#include "run/prepare.h"
#include "run/ranks.h"

namespace ae {
namespace {

namespace fs = std::filesystem;

// --- anomaly statistics --------------------------------------------------------------------

TEST(CliAnomaly, QuantileInterpolatesLikeNumpy) {
  // numpy.quantile([4, 1, 3, 2], q) for q = 0, 0.5, 0.9, 1: 1, 2.5, 3.7, 4.
  EXPECT_DOUBLE_EQ(models::quantile({4, 1, 3, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(models::quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_NEAR(models::quantile({4, 1, 3, 2}, 0.9), 3.7, 1e-12);
  EXPECT_DOUBLE_EQ(models::quantile({4, 1, 3, 2}, 1), 4);
  EXPECT_DOUBLE_EQ(models::quantile({7}, 0.3), 7);
  EXPECT_THROW(models::quantile({}, 0.5), Error);
  EXPECT_THROW(models::quantile({1, NAN}, 0.5), Error);
}

// A dead ReLU unit (always 0), a saturated one (always 1), one that barely moves, and two that
// vary: the constant ones are those whose population standard deviation is at most the tolerance.
TEST(CliCodeActivity, CountsTheUnitsThatDoNotVary) {
  const std::vector<double> v = {0, 1, 0.5000, 0.1, -2,   //
                                 0, 1, 0.5004, 0.9, 2,    //
                                 0, 1, 0.5000, 0.5, 0,    //
                                 0, 1, 0.5004, 0.3, 1};
  const Tensor codes = Tensor::from_host(v, {4, 5}, Device::cpu());
  const models::CodeActivity a = models::code_activity(codes, 1e-3);
  EXPECT_EQ(a.units, 5);
  EXPECT_EQ(a.constant, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_NEAR(a.stddev[2], 0.0002, 1e-9);
  EXPECT_NEAR(a.stddev[4], std::sqrt((4.0 + 4 + 0 + 1) / 4 - 0.0625), 1e-12);
  EXPECT_EQ(a.stddev[0], 0);
  // A tighter tolerance keeps the one that barely moves.
  EXPECT_EQ(models::code_activity(codes, 1e-4).constant, (std::vector<int64_t>{0, 1}));
  EXPECT_THROW(models::code_activity(Tensor::from_host(std::vector<double>{NAN}, {1, 1}, Device::cpu()), 0.1),
               Error);
  EXPECT_EQ(models::unit_list({0, 1, 2, 3, 7, 9, 10}), "0-3, 7, 9-10");
  EXPECT_EQ(models::unit_list({1, 3, 5, 7}, 2), "1, 3, ...");
  EXPECT_EQ(models::unit_list({}), "");
}

TEST(CliAnomaly, RocAucCountsPairsAndTies) {
  // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75.
  EXPECT_DOUBLE_EQ(models::roc_auc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75);
  EXPECT_DOUBLE_EQ(models::roc_auc({1, 2, 3, 4}, {false, false, true, true}), 1.0);
  EXPECT_DOUBLE_EQ(models::roc_auc({4, 3, 2, 1}, {false, false, true, true}), 0.0);
  // Ties count half: every pair tied gives 0.5.
  EXPECT_DOUBLE_EQ(models::roc_auc({1, 1, 1, 1}, {false, true, false, true}), 0.5);
  // One positive tied with one of two negatives and above the other: (1 + 0.5) / 2.
  EXPECT_DOUBLE_EQ(models::roc_auc({2, 1, 2}, {true, false, false}), 0.75);
  EXPECT_THROW(models::roc_auc({1, 2}, {true, true}), Error);
}

TEST(CliAnomaly, AveragePrecisionAndRocCurve) {
  // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333:
  // 0.8 flags one of two anomalies at precision 1, 0.35 the other at precision 2/3.
  const std::vector<double> scores{0.1, 0.4, 0.35, 0.8};
  const std::vector<bool> positive{false, false, true, true};
  EXPECT_DOUBLE_EQ(models::average_precision(scores, positive), 0.5 * 1 + 0.5 * 2.0 / 3);
  // Tied scores enter together: one threshold, precision 1/2, recall 1.
  EXPECT_DOUBLE_EQ(models::average_precision({1, 1, 1, 1}, {false, true, false, true}), 0.5);
  EXPECT_DOUBLE_EQ(models::average_precision({1, 2, 3}, {false, false, true}), 1.0);
  EXPECT_THROW(models::average_precision({1, 2}, {false, false}), Error);
  // sklearn.metrics.roc_curve on the same scores (drop_intermediate=False, with (0, 0) first).
  const models::RocCurve roc = models::roc_curve(scores, positive);
  EXPECT_EQ(roc.false_positive_rate, (std::vector<double>{0, 0, 0.5, 0.5, 1}));
  EXPECT_EQ(roc.true_positive_rate, (std::vector<double>{0, 0.5, 0.5, 1, 1}));
  // The trapezoids under it give the ROC AUC.
  double area = 0;
  for (size_t i = 1; i < roc.false_positive_rate.size(); ++i)
    area += (roc.false_positive_rate[i] - roc.false_positive_rate[i - 1]) *
            (roc.true_positive_rate[i] + roc.true_positive_rate[i - 1]) / 2;
  EXPECT_DOUBLE_EQ(area, models::roc_auc(scores, positive));
  EXPECT_THROW(models::roc_curve({1, 2}, {true, true}), Error);
}

TEST(CliAnomaly, ConfusionAtTheThreshold) {
  const models::Confusion c =
      models::confusion_at({0.1, 0.5, 0.9, 0.7, 0.2}, {false, false, true, false, true}, 0.5);
  // Flagged (> 0.5): 0.9 (anomaly) and 0.7 (normal); the anomaly at 0.2 is missed.
  EXPECT_EQ(c.true_positives, 1);
  EXPECT_EQ(c.false_positives, 1);
  EXPECT_EQ(c.true_negatives, 2);
  EXPECT_EQ(c.false_negatives, 1);
  EXPECT_DOUBLE_EQ(c.precision(), 0.5);
  EXPECT_DOUBLE_EQ(c.recall(), 0.5);
  EXPECT_DOUBLE_EQ(c.f1(), 0.5);
  EXPECT_DOUBLE_EQ(models::confusion_at({0.1}, {true}, 1.0).precision(), 0.0);
}

// --- plots ----------------------------------------------------------------------------------

void expect_ticks(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(CliPlot, NiceTicks) {
  expect_ticks(models::nice_ticks(0, 1, 5), {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(models::nice_ticks(3.2, 71, 4), {20, 40, 60});
  expect_ticks(models::nice_ticks(-1, 1, 2), {-1, 0, 1});
  EXPECT_THROW(models::nice_ticks(1, 1, 5), Error);
  EXPECT_EQ(models::tick_label(0.05, 0.05), "0.05");
  EXPECT_EQ(models::tick_label(1200, 200), "1200");
  EXPECT_EQ(models::tick_label(1e-5, 1e-5), "1e-05");
  EXPECT_EQ(models::tick_label(2.5, 0.5), "2.5");
}

// The colour of pixel (x, y) of an RGB image.
models::Rgb at(const io::Image& im, int x, int y) {
  const uint8_t* p = im.pixels.data() + (static_cast<size_t>(y) * im.width + x) * 3;
  return {p[0], p[1], p[2]};
}
bool same(models::Rgb a, models::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
int64_t count_color(const io::Image& im, models::Rgb c) {
  int64_t n = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) n += same(at(im, x, y), c);
  return n;
}

TEST(CliPlot, CanvasDrawsAndClips) {
  models::Canvas canvas(20, 10, {255, 255, 255});
  const models::Rgb red{255, 0, 0};
  canvas.line(-5, 2, 30, 2, red);  // clipped at both ends
  for (int x = 0; x < 20; ++x) EXPECT_TRUE(same(at(canvas.image(), x, 2), red)) << x;
  EXPECT_TRUE(same(at(canvas.image(), 5, 3), {255, 255, 255}));
  canvas.blend(0, 0, {0, 0, 0}, 0.5);
  EXPECT_TRUE(same(at(canvas.image(), 0, 0), {128, 128, 128}));
  canvas.text(0, 3, "1", {0, 0, 255});
  // '1' is lit at its top centre (column 2 of row 0) and not at column 0 of row 0.
  EXPECT_TRUE(same(at(canvas.image(), 2, 3), {0, 0, 255}));
  EXPECT_TRUE(same(at(canvas.image(), 0, 3), {255, 255, 255}));
  EXPECT_EQ(models::Canvas::text_width("ab"), 11);
}

TEST(CliPlot, CurvesAndScatterUseThePalette) {
  models::Curve c{"train", {1, 2, 3}, {3, 2, 1}};
  const io::Image curves = models::plot_curves({c}, {});
  EXPECT_EQ(curves.width, 640);
  EXPECT_EQ(curves.height, 420);
  EXPECT_EQ(curves.channels, 3);
  EXPECT_GT(count_color(curves, models::palette_color(0)), 100) << "the curve is drawn";
  EXPECT_EQ(count_color(curves, models::palette_color(1)), 0) << "one curve, one colour";

  std::vector<double> x, y;
  std::vector<int64_t> labels;
  for (int i = 0; i < 40; ++i) {
    x.push_back(i % 2 ? 1.0 + 0.01 * i : -1.0);
    y.push_back(0.05 * i);
    labels.push_back(i % 2 ? 8 : 3);  // two labels: the first two palette colours
  }
  const io::Image scatter = models::plot_scatter(x, y, labels, {});
  EXPECT_GT(count_color(scatter, models::palette_color(0)), 20);
  EXPECT_GT(count_color(scatter, models::palette_color(1)), 20);
  EXPECT_THROW(models::plot_scatter({1, 2}, {1}, {}, {}), Error);

  io::Image row;
  row.width = 4, row.height = 2, row.channels = 1;
  row.pixels.assign(8, 200);
  const io::Image stacked = models::captioned_rows({"a", "b"}, {row, row}, 3);
  EXPECT_EQ(stacked.height, 12);
  EXPECT_EQ(stacked.width, models::Canvas::text_width("a") + 12 + 12);
}

TEST(CliPlot, LegendStaysClearOfTheCurves) {
  // Curves through the top-right corner (where the legend used to go), and through every corner.
  const std::vector<std::vector<models::Curve>> cases = {
      {{"rising", {0, 1, 2, 3}, {1, 10, 100, 1000}}, {"flat", {0, 3}, {500, 500}}},
      {{"zigzag", {0, 1, 2, 3, 4, 5, 6}, {0, 9, 0, 9, 0, 9, 0}},
       {"corners", {0, 0.02, 5.98, 6}, {9, 8.9, 8.9, 9}}}};
  for (const std::vector<models::Curve>& named : cases) {
    std::vector<models::Curve> unnamed = named;
    for (models::Curve& c : unnamed) c.name.clear();
    const io::Image with = models::plot_curves(named, {});
    const io::Image without = models::plot_curves(unnamed, {});
    // Every pixel of a curve's colour without a legend keeps it with one, or the plot narrowed
    // and the legend stands beside it: then the curves end left of the legend's text.
    int64_t kept = 0, total = 0;
    for (int y = 0; y < without.height; ++y)
      for (int x = 0; x < without.width; ++x)
        for (int64_t k = 0; k < 2; ++k)
          if (same(at(without, x, y), models::palette_color(k)))
            ++total, kept += same(at(with, x, y), models::palette_color(k));
    const bool narrowed = kept < total;
    if (!narrowed) continue;
    // The legend's names are the only black pixels; below its rows, no curve reaches them.
    int curve_right = 0, legend_left = with.width, legend_bottom = 0;
    for (int y = 0; y < with.height; ++y)
      for (int x = 0; x < with.width; ++x)
        if (same(at(with, x, y), {0, 0, 0})) legend_left = std::min(legend_left, x), legend_bottom = y;
    for (int y = legend_bottom + 8; y < with.height; ++y)
      for (int x = 0; x < with.width; ++x)
        for (int64_t k = 0; k < 2; ++k)
          if (same(at(with, x, y), models::palette_color(k))) curve_right = std::max(curve_right, x);
    EXPECT_GT(legend_left, with.width / 2) << named[0].name;
    EXPECT_LT(curve_right, legend_left - 28) << named[0].name << ": the names and their marks";
  }
}

TEST(CliPlot, HistogramBarsFollowTheCounts) {
  // Two bins over [1, 3]: three values in the first, one in the second.
  models::PlotOptions o;
  const io::Image im = models::plot_histograms({{"values", {1, 1.5, 1.9, 3}}}, {}, o, 2);
  // One group is drawn at alpha 0.85 over white.
  const models::Rgb c = models::palette_color(0);
  auto mixed = [](uint8_t v) { return static_cast<uint8_t>(std::lround(255 + (v - 255) * 0.85)); };
  const models::Rgb bar{mixed(c.r), mixed(c.g), mixed(c.b)};
  auto column = [&](int x) {
    int n = 0;
    for (int y = 0; y < im.height; ++y) n += same(at(im, x, y), bar);
    return n;
  };
  // The plot area spans x 72 .. 622: the bars' middles are at a quarter and three quarters.
  const int first = column(72 + 550 / 4), second = column(72 + 3 * 550 / 4);
  ASSERT_GT(second, 20);
  EXPECT_NEAR(static_cast<double>(first) / second, 3.0, 0.1);
  // A marker and a second group; values over more than two decades go on a log axis.
  const io::Image two = models::plot_histograms(
      {{"normal", {1, 2, 3, 4}}, {"anomalies", {300, 500, 900}}}, {{"threshold", 100}}, o);
  EXPECT_EQ(two.width, 640);
  EXPECT_THROW(models::plot_histograms({}, {}, o), Error);
}

// --- checkpoints ----------------------------------------------------------------------------

class CliCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ae_ckpt_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

models::ModelSpec small_spec(models::ModelKind kind) {
  models::ModelSpec s;
  s.kind = kind;
  s.seed = 11;
  s.vae.widths = {6, 5};
  s.vae.latent = 2;
  s.autoencoder.widths = {6, 4, 3};
  s.autoencoder.noise.kind = models::NoiseKind::gaussian;
  s.autoencoder.noise.level = 0.1;
  return s;
}

// A few Adam steps, so that moments and the noise stream have moved.
void train_steps(models::Model& model, models::Optimizer& opt, const Tensor& x, int steps) {
  for (int i = 0; i < steps; ++i) {
    models::Losses l = model.loss(x, {true, opt.steps()});
    opt.zero_grad();
    l.total.backward();
    opt.step();
  }
}

std::vector<Tensor> values(const models::Model& m) {
  std::vector<Tensor> out;
  for (const models::Parameter& p : m.parameters()) out.push_back(p.value);
  return out;
}

TEST_F(CliCheckpoint, SaveAndRestoreContinueIdentically) {
  const Tensor x = Tensor::rand({8, 6}, 3, 0, DType::f32, Device::cpu());
  for (models::ModelKind kind : {models::ModelKind::autoencoder, models::ModelKind::vae}) {
    SCOPED_TRACE(models::model_kind_name(kind));
    const models::ModelSpec spec = small_spec(kind);
    auto a = models::build_model(spec, Device::cpu());
    models::Optimizer opt_a(values(*a), {});
    train_steps(*a, opt_a, x, 3);
    models::TrainingState state{2, 3, 1, 0.25};
    models::save_checkpoint(file("c.safetensors"), spec, *a, &opt_a, state);

    const models::Checkpoint c = models::read_checkpoint(file("c.safetensors"));
    EXPECT_EQ(models::model_spec_json(c.spec), models::model_spec_json(spec));
    EXPECT_EQ(c.state.epoch, 2);
    EXPECT_EQ(c.state.best_epoch, 1);
    EXPECT_EQ(c.state.best_loss, 0.25);
    EXPECT_EQ(c.rng_offset, a->generator().offset());
    auto b = models::load_model(c, Device::cpu());
    models::Optimizer opt_b(values(*b), {});
    models::restore_optimizer(c, *b, opt_b);
    EXPECT_EQ(opt_b.steps(), 3);
    // Three more steps on each: the same numbers to the bit.
    train_steps(*a, opt_a, x, 3);
    train_steps(*b, opt_b, x, 3);
    const std::vector<Tensor> pa = values(*a), pb = values(*b);
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].to_floats(), pb[i].to_floats()) << i;
  }
}

TEST_F(CliCheckpoint, MismatchesAreNamed) {
  const models::ModelSpec spec = small_spec(models::ModelKind::autoencoder);
  auto model = models::build_model(spec, Device::cpu());
  models::save_checkpoint(file("c.safetensors"), spec, *model, nullptr, {});
  models::ModelSpec wider = spec;
  wider.autoencoder.widths = {6, 7, 3};
  auto other = models::build_model(wider, Device::cpu());
  const models::Checkpoint c = models::read_checkpoint(file("c.safetensors"));
  try {
    models::restore_model(c, *other);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("c.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("encoder.0.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("(4, 6)"), std::string::npos) << m;
    EXPECT_NE(m.find("(7, 6)"), std::string::npos) << m;
  }
  // A model description with a field too many, and a file that is not an ae checkpoint.
  EXPECT_THROW(models::parse_model_spec(R"({"kind": "vae", "extra": 1})", "x"), Error);
  io::write_safetensors(file("plain.safetensors"), {io::safetensor_f32("w", {1}, std::vector<float>{1}.data())});
  try {
    models::read_checkpoint(file("plain.safetensors"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ae.format"), std::string::npos) << e.what();
  }
}

// --- configuration --------------------------------------------------------------------------

TEST(CliConfig, JsonRoundTripAndPresets) {
  run::RunConfig c = run::preset("dae");
  EXPECT_EQ(c.model.noise, "masking");
  EXPECT_GT(c.model.noise_level, 0);
  c.train.lr = 0.0123;
  c.data.exclude_labels.values = {0, 7};
  c.model.hidden = {};
  const run::json j = run::to_json(c);
  EXPECT_EQ(j["train"]["lr"], 0.0123);
  EXPECT_EQ(j["data"]["exclude_labels"], run::json::parse("[0, 7]"));
  run::RunConfig back = run::preset("vae");
  run::apply_json(back, j, "x.json");
  EXPECT_EQ(run::to_json(back), j);
  EXPECT_NO_THROW(run::validate(back));

  auto message = [](const run::json& bad) {
    run::RunConfig r;
    try {
      run::apply_json(r, bad, "run.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(run::json::parse(R"({"train": {"lr": "fast"}})")),
            "run.json: field 'train.lr' must be a number, got \"fast\"");
  EXPECT_EQ(message(run::json::parse(R"({"model": {"widths": [3]}})")),
            "run.json: unknown field 'model.widths'");
  EXPECT_EQ(message(run::json::parse(R"({"model": {"hidden": [0]}})")),
            "run.json: field 'model.hidden' must hold positive integers, got 0");
  EXPECT_THROW(run::preset("gan"), Error);

  run::RunConfig v;
  v.train.lr = -1;
  EXPECT_THROW(run::validate(v), Error);
  v = run::preset("vae");
  v.model.noise = "masking";  // the VAE takes no input noise
  EXPECT_THROW(run::validate(v), Error);
}

}  // namespace
}  // namespace ae
#endif  // AE_CLI_PATH

namespace ae {
namespace {

// --model auto: pictures get the VAE's settings, a table the detector's autoencoder by its rule;
// what a file or flag gave is kept, and a given kind is left alone.
TEST(CliConfig, AutoModelFollowsTheData) {
  run::RunConfig table = run::preset("auto");
  const std::string why = run::resolve_auto_model(table, 21, false);
  EXPECT_EQ(table.model.kind, "ae");
  EXPECT_EQ(table.model.code, 5);  // round(√21)
  EXPECT_EQ(table.model.hidden, (std::vector<int64_t>{21}));  // max(2k, min(d, 64))
  EXPECT_EQ(table.model.code_activation, "identity");
  EXPECT_EQ(table.data.normalize, "standardize");
  EXPECT_NE(why.find("a table of 21 features"), std::string::npos) << why;
  for (auto [features, code, hidden] : {std::tuple<int64_t, int64_t, int64_t>{3, 2, 4},
                                        {1555, 32, 64}, {100, 10, 64}, {9, 3, 9}}) {
    run::RunConfig c = run::preset("auto");
    run::resolve_auto_model(c, features, false);
    EXPECT_EQ(c.model.code, code) << features;
    EXPECT_EQ(c.model.hidden, (std::vector<int64_t>{hidden})) << features;
  }

  run::RunConfig pictures = run::preset("auto");
  EXPECT_NE(run::resolve_auto_model(pictures, 784, true).find("VAE"), std::string::npos);
  run::RunConfig vae = run::preset("vae");
  EXPECT_EQ(run::to_json(pictures), run::to_json(vae));

  run::RunConfig given = run::preset("auto");
  run::apply_json(given, run::json::parse(R"({"model": {"code": 7}, "data": {"normalize": "none"},
                                              "train": {"lr": 0.01}})"), "x.json");
  run::resolve_auto_model(given, 21, false);
  EXPECT_EQ(given.model.code, 7);
  EXPECT_EQ(given.data.normalize, "none");
  EXPECT_EQ(given.train.lr, 0.01);
  EXPECT_EQ(given.model.hidden, (std::vector<int64_t>{21}));

  run::RunConfig dae = run::preset("dae");
  EXPECT_EQ(run::resolve_auto_model(dae, 21, false), "");
  EXPECT_EQ(run::to_json(dae), run::to_json(run::preset("dae")));
}

// What data-parallel ranks compare (run/ranks.h): the data first, then each setting in the
// table's order named by flag and key, then what the data made of them; the device may differ.
TEST(CliRanks, FingerprintNamesTheFirstDifference) {
  const run::RunConfig c = run::preset("ae");
  const std::string spec = R"({"kind":"autoencoder","widths":[12,8,3],"data":"real"})";
  const run::json here = run::rank_fingerprint(c, 1000, 12, "standardize", spec);
  EXPECT_EQ(run::fingerprint_difference(here, here), "");
  run::RunConfig other = c;
  other.device = "cuda:1";
  EXPECT_EQ(run::fingerprint_difference(run::rank_fingerprint(other, 1000, 12, "standardize", spec), here), "");
  other.train.epochs = 4;
  other.seed = 9;
  EXPECT_EQ(run::fingerprint_difference(run::rank_fingerprint(other, 1000, 12, "standardize", spec), here),
            cat("--epochs (train.epochs) differs: 4 here, ", c.train.epochs, " on rank 0"));
  EXPECT_EQ(run::fingerprint_difference(run::rank_fingerprint(other, 1200, 11, "standardize", spec), here),
            "the data's number of rows differs: 1200 here, 1000 on rank 0");
  EXPECT_EQ(run::fingerprint_difference(run::rank_fingerprint(c, 1000, 12, "none", spec), here),
            "the normalisation (--normalize auto chose) differs: \"none\" here, \"standardize\" on rank 0");
  const std::string binary = R"({"kind":"autoencoder","widths":[12,8,3],"data":"binary"})";
  EXPECT_EQ(run::fingerprint_difference(run::rank_fingerprint(c, 1000, 12, "standardize", binary), here),
            "the model's data differs: \"binary\" here, \"real\" on rank 0");
  // One rank: nothing to compare, nothing thrown.
  auto single = make_communicator(CommKind::single);
  EXPECT_NO_THROW(run::check_ranks_agree(*single, here, Device::cpu()));
}

// Two descriptions' first difference, a key one side lacks included (a resumed run's model
// against its checkpoint's).
TEST(CliRanks, JsonDifferenceNamesTheKeyAndBothValues) {
  const run::json a = run::json::parse(R"({"widths":[64,8],"noise":{"kind":"none","level":0}})");
  EXPECT_FALSE(run::json_difference(a, a).found);
  run::json b = a;
  b["noise"]["level"] = 0.5;
  const run::Difference d = run::json_difference(a, b);
  EXPECT_TRUE(d.found);
  EXPECT_EQ(d.what, "noise.level");
  EXPECT_EQ(d.a, "0");
  EXPECT_EQ(d.b, "0.5");
  b = a;
  b.erase("widths");
  EXPECT_EQ(run::json_difference(a, b).what, "widths");
  EXPECT_EQ(run::json_difference(a, b).b, "absent");
}

}  // namespace
}  // namespace ae
