// ae train on tables as people have them: features of very different scales, raw pixel values,
// a common offset, header lines that are not headers, class columns without a name. The inputs
// are the small synthetic cases of tests/data/tables/ (README.md there; make_cases.py writes
// them), each standing for a kind of input that once gave a useless model without a word.
#ifdef AE_CLI_PATH
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "train/checkpoint.h"
#include "analysis/metrics.h"
#include "models/vae.h"
#include "tests/cpu/test_models_util.h"
#include "tests/cpu/test_cli_util.h"
#include "run/prepare.h"
#include "run/session.h"

namespace ae::testing_cli {
namespace {

std::string table(const std::string& name) {
  return std::string(AE_SOURCE_DIR) + "/tests/data/tables/" + name;
}

// The ROC AUC of a scores.csv written by `ae score`: the score column against label 1, and the
// number of rows.
double auc_of(const fs::path& csv, size_t& rows) {
  std::stringstream in(read_text(csv));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.rfind("index,score,", 0), 0u) << line;
  EXPECT_EQ(line.substr(line.rfind(',') + 1), "label") << line;
  std::vector<double> scores;
  std::vector<bool> positive;
  while (std::getline(in, line)) {
    const size_t a = line.find(',');
    scores.push_back(std::stod(line.substr(a + 1, line.find(',', a + 1) - a - 1)));
    positive.push_back(line.substr(line.rfind(',') + 1) == "1");
  }
  rows = scores.size();
  return models::roc_auc(scores, positive);
}

// The mean over the validation rows of Σ_j (x_ij − mean_j)², mean_j over the training rows: the
// squared error of predicting the training mean, in the space the model works in.
double mean_predictor_error(const run::PreparedData& data) {
  const std::vector<double> train = data.train.x.to_vector(), val = data.val.x.to_vector();
  const int64_t f = data.train.features(), m = data.train.size(), n = data.val.size();
  std::vector<double> mean(f, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < f; ++j) mean[j] += train[i * f + j] / static_cast<double>(m);
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) total += (val[i * f + j] - mean[j]) * (val[i * f + j] - mean[j]);
  return total / static_cast<double>(n);
}

using CliTables = CliTest;

// Two features in [0, 1] whose relation the anomalies break, two in [0, 10000]. One minimum and
// maximum for the whole table squashed the small pair to about 1e-4 (ROC AUC 0.57); per-feature
// min_max, and the default (auto: standardised per feature), find the anomalies among the rows the
// model never trained on: the validation split and the held-out class.
TEST_F(CliTables, MixedScalesPerFeatureScalingFindsTheAnomalies) {
  const std::string data = " --data " + table("mixed_scales.csv") + " --label-column label";
  for (const std::string normalize : {"min_max", "auto"}) {
    SCOPED_TRACE(normalize);
    const std::string flag = normalize == "auto" ? "" : " --normalize " + normalize;
    const Result r = ok("train --model ae --exclude-labels 1 --no-pictures --out " + normalize + data + flag);
    // The first line says how the data is scaled, and why.
    const std::string first = r.out.substr(0, r.out.find('\n'));
    if (normalize == "auto") {
      EXPECT_NE(first.find("normalize: standardize (--normalize auto: values in ["), std::string::npos)
          << first;
      EXPECT_NE(first.find("outside [0, 1]"), std::string::npos) << first;
    } else {
      EXPECT_EQ(first, "normalize: min_max (--normalize min_max), fitted on the training split");
    }
    // config.json records the choice; --config repeats the run (the record is not a setting).
    const nlohmann::json config = nlohmann::json::parse(read_text(path(normalize + "/config.json")));
    EXPECT_EQ(config["data"]["normalize"], normalize);
    EXPECT_EQ(config["resolved"]["normalize"], normalize == "auto" ? "standardize" : "min_max");

    // By default `ae score` scores what the model never trained on: the 114 validation rows and
    // the 60 rows of the excluded label.
    ok("score " + normalize);
    size_t rows = 0;
    const double auc = auc_of(path(normalize + "/scores.csv"), rows);
    EXPECT_EQ(rows, 174u);
    models::test::measured(cat("mixed_scales, --normalize ", normalize, ": held-out ROC AUC ", auc,
                               " (114 validation rows, 60 anomalies)"));
    EXPECT_GT(auc, 0.9);
  }
  ok("train --config auto/config.json --out again --epochs 1 -q --no-pictures");
}

// A constant column (a sensor that never moved, a flag set on every row) stays finite under every
// scaling: min_max maps it to 0 and standardize only centres it, instead of dividing by a zero range.
TEST_F(CliTables, ConstantColumnsStayFinite) {
  std::string csv = "a,b,constant\n";
  for (int i = 0; i < 200; ++i) csv += cat(i % 7, ",", 1000 + 37 * (i % 11), ",42\n");
  write_text(path("constant.csv"), csv);
  for (const std::string normalize : {"auto", "min_max", "standardize"}) {
    SCOPED_TRACE(normalize);
    ok("train --model ae --code 2 --epochs 2 --data constant.csv --no-pictures -q --normalize " +
       normalize + " --out " + normalize);
    const models::Checkpoint c = models::read_checkpoint(path(normalize + "/latest.safetensors").string());
    const models::Normalizer nz = models::Normalizer::load(c.file);
    EXPECT_EQ(nz.scale[2], 1);
    EXPECT_EQ(nz.shift[2], 42);
    const nlohmann::json m = nlohmann::json::parse(read_text(path(normalize + "/metrics.json")));
    EXPECT_TRUE(std::isfinite(m["epochs"][1]["val"]["total"].get<double>()));
  }
}

// Raw 0..255 pixels: the default standardises them and the VAE learns them well; even with
// --normalize none the log-variance, driven far past its range at the start, comes back into it
// (a hard clamp left it stuck at e^20 with no gradient, and the model ended worse than the mean).
TEST_F(CliTables, RawPixelsTrainWithOrWithoutScaling) {
  const std::string data = " --data " + table("raw_pixels.npy") + " --labels " + table("raw_pixels_labels.npy");
  for (const std::string normalize : {"auto", "none"}) {
    SCOPED_TRACE(normalize);
    const std::string epochs = normalize == "auto" ? "30" : "60";
    ok("train --model vae --normalize " + normalize + " --epochs " + epochs +
       " --no-pictures -q --out " + normalize + data);
    ok("eval " + normalize + " --out " + normalize + "/eval.json");
    const double error =
        nlohmann::json::parse(read_text(path(normalize + "/eval.json")))["squared_error"].get<double>();

    const run::LoadedRun run = run::load_run(path(normalize).string(), "best", "cpu");
    EXPECT_EQ(run.normalizer.has_value(), normalize == "auto");
    run::DataSettings settings = run.config.data;
    settings.normalize = normalize == "auto" ? "standardize" : "none";
    const run::PreparedData prepared = run::prepare_data(settings);
    const double baseline = mean_predictor_error(prepared);
    models::test::measured(cat("raw_pixels, --normalize ", normalize, ", ", epochs,
                          " epochs: validation squared error ", error, ", predicting the training mean ",
                          baseline, " (ratio ", error / baseline, ")"));
    EXPECT_LT(error, (normalize == "auto" ? 0.25 : 1.0) * baseline);

    // No validation sample's log-variance is left past the top of the range, where the hard
    // clamp held it (σ² = e^20, a KL of 2.4e8). Without scaling it settles low instead: a
    // unit-variance decoder on 0..255 values pays far more for a noisy code than for the KL.
    NoGradGuard no_grad;
    auto& vae = static_cast<models::Vae&>(*run.model);
    const std::vector<double> logvar = vae.encode(prepared.val.x.to(vae.dtype())).logvar.to_vector();
    const auto [lo, hi] = std::minmax_element(logvar.begin(), logvar.end());
    models::test::measured(cat("raw_pixels, --normalize ", normalize, ": log-variance in [", *lo, ", ", *hi, "]"));
    EXPECT_LT(*hi, models::kLogvarMax - models::kLogvarMargin);
    EXPECT_GT(*lo, models::kLogvarMin);
  }
}

// 16 features around a common mean of 60 with rank-4 structure. The sparse model's default once
// left all 64 sigmoid code units constant without a word. The default now standardises the data
// and few units are constant; left unscaled, a one-line warning names the constant units and the
// likely cause, and metrics.json records the count either way.
TEST_F(CliTables, OffsetDataGivesAUsefulCodeOrAWarning) {
  const std::string data = " --data " + table("offset.csv") + " --model sparse --epochs 20 --no-pictures";
  auto constant_units = [&](const std::string& run) {
    const nlohmann::json code = nlohmann::json::parse(read_text(path(run + "/metrics.json")))["code"];
    EXPECT_EQ(code["split"], "validation");
    EXPECT_EQ(code["units"], 64);
    EXPECT_EQ(code["constant"].size(), code["constant_units"].get<size_t>());
    return code["constant_units"].get<int64_t>();
  };
  const Result good = ok("train --out scaled" + data);
  EXPECT_EQ(good.err, "");
  const int64_t scaled = constant_units("scaled");
  EXPECT_NE(good.out.find(cat("code: ", scaled, " of 64 code units constant over the 100 validation samples")),
            std::string::npos) << good.out;
  EXPECT_LE(scaled, 8);

  const Result bad = ok("train --out unscaled --normalize none -q" + data);
  const int64_t unscaled = constant_units("unscaled");
  models::test::measured(cat("offset.csv, --model sparse: ", scaled, " of 64 code units constant when "
                             "standardised (the default), ", unscaled, " with --normalize none"));
  EXPECT_GT(unscaled, 32);
  EXPECT_EQ(count_lines(bad.err), 1u) << bad.err;
  EXPECT_EQ(bad.err.rfind(cat("ae: warning: ", unscaled, " of 64 code units constant over the 100 validation samples (units "), 0), 0u)
      << bad.err;
  EXPECT_NE(bad.err.find("likely cause: unscaled data (values in ["), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("too strong a penalty (--penalty kl_sparsity with --penalty-weight 0.1)"),
            std::string::npos) << bad.err;
}

// A first line of counts and class names above header-less rows (the layout of some data sets
// bundled with scientific libraries) once failed with ":2: 6 fields, expected 4". It is reported
// as not being a header, with the number of lines to skip; skipped, and with the class column
// named, the table trains.
TEST_F(CliTables, CountHeaderIsReportedWithSkipRows) {
  const std::string data = " --data " + table("count_header.csv");
  const Result r = fails("train --model ae --out run" + data,
                         {"count_header.csv:1: '300,5,first,second' has 4 fields but line 2 below it has 6",
                          "--skip-rows 1"});
  EXPECT_FALSE(fs::exists(path("run")));
  const Result t = ok("train --model ae --epochs 3 --no-pictures --out run --skip-rows 1 --label-column 5" + data);
  EXPECT_NE(t.out.find("count_header.csv (5 -> 16,"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("270 training and 30 validation samples"), std::string::npos) << t.out;
  EXPECT_EQ(nlohmann::json::parse(read_text(path("run/config.json")))["data"]["skip_rows"], 1);
  // Without the class column, the hint names it.
  const Result h = ok("train --model ae --epochs 1 --no-pictures --out hint --skip-rows 1" + data);
  EXPECT_NE(h.out.find("column 5 (the last) holds only the 2 integers 0 to 1"), std::string::npos) << h.out;
  fails("train --skip-rows 1 --data " + table("raw_pixels.npy"), {"--skip-rows is for CSV data"});
  fails("train --skip-rows -2" + data, {"--skip-rows", "-2"});
}

// Header-less numbers whose last column is the class: the class once became a seventh feature
// without a word. Now one line says so and names the flag (nothing is guessed: the column is
// still read as a feature); with --label-column the run has 6 features and the classes as labels.
TEST_F(CliTables, HeaderlessClassColumnGetsAHint) {
  const std::string data = " --data " + table("headerless_labels.csv");
  const Result r = ok("train --model ae --epochs 1 --no-pictures --out guess" + data);
  size_t hints = 0;
  std::stringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.find("--label-column") != std::string::npos) {
      ++hints;
      EXPECT_NE(line.find("column 6 (the last) holds only the 4 integers 0 to 3"), std::string::npos)
          << line;
    }
  EXPECT_EQ(hints, 1u) << r.out;
  EXPECT_NE(r.out.find("headerless_labels.csv (7 -> 16,"), std::string::npos) << r.out;

  const Result t = ok("train --model ae --epochs 1 --no-pictures --out run --label-column 6" + data);
  EXPECT_EQ(t.out.find("--label-column"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("headerless_labels.csv (6 -> 16,"), std::string::npos) << t.out;
  const run::LoadedRun run = run::load_run(path("run").string(), "best", "cpu");
  EXPECT_EQ(run.checkpoint.spec.input_width(), 6);
  EXPECT_EQ(run::training_data(run, "score").features(), 6);
  EXPECT_TRUE(run::training_data(run, "score").has_labels());
}

}  // namespace
}  // namespace ae::testing_cli
#endif
