// ae train --model topk|batchtopk|jumprelu|relu-l1 end to end: the run folder, the sparse
// autoencoders' metrics and pictures, exact resume, --stream, the commands that serve such a run
// and the settings refused.
#include <cmath>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/normalize.h"
#include "data/npy.h"
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

constexpr int64_t kInputs = 32, kAtoms = 96;

// "Activations": each row a sum of 4 of kAtoms unit directions with positive weights, plus a
// little noise, shifted off the origin. `rows` rows from `seed`.
std::vector<float> activations(int64_t rows, uint32_t seed) {
  std::mt19937 gen(1234);  // the dictionary is the same for every call
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> atoms(kAtoms * kInputs);
  for (int64_t a = 0; a < kAtoms; ++a) {
    float sq = 0;
    for (int64_t j = 0; j < kInputs; ++j) sq += (atoms[a * kInputs + j] = normal(gen)) * atoms[a * kInputs + j];
    for (int64_t j = 0; j < kInputs; ++j) atoms[a * kInputs + j] /= std::sqrt(sq);
  }
  std::mt19937 rows_gen(seed);
  std::uniform_int_distribution<int64_t> pick(0, kAtoms - 1);
  std::uniform_real_distribution<float> weight(0.5f, 2.0f);
  std::vector<float> x(rows * kInputs);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kInputs; ++j) x[r * kInputs + j] = 0.3f + 0.01f * normal(rows_gen);
    for (int i = 0; i < 4; ++i) {
      const int64_t a = pick(rows_gen);
      const float w = weight(rows_gen);
      for (int64_t j = 0; j < kInputs; ++j) x[r * kInputs + j] += w * atoms[a * kInputs + j];
    }
  }
  return x;
}

void write_activations(const fs::path& p, int64_t rows, uint32_t seed) {
  const std::vector<float> x = activations(rows, seed);
  io::write_npy(p.string(), {rows, kInputs}, x.data());
}

// metrics.csv as header names and rows of numbers (empty fields as NaN).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  double at(size_t row, const std::string& column) const {
    for (size_t c = 0; c < header.size(); ++c)
      if (header[c] == column) return rows.at(row).at(c);
    ADD_FAILURE() << "no column " << column;
    return NAN;
  }
};

Csv read_csv(const fs::path& p) {
  Csv csv;
  std::stringstream in(read_text(p));
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string f;
    std::vector<double> row;
    while (std::getline(fields, f, ',')) {
      if (first)
        csv.header.push_back(f);
      else
        row.push_back(f.empty() ? NAN : std::stod(f));
    }
    if (!first) csv.rows.push_back(row);
    first = false;
  }
  return csv;
}

class CliSae : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    write_activations(path("acts.npy"), 2048, 1);
  }
};

const std::string kSmall = " --latents 128 --k 4 --batch-size 64 --lr-warmup 10 -q";

TEST_F(CliSae, TrainsEachKindWithItsMetricsAndPictures) {
  for (const std::string kind : {"topk", "batchtopk", "jumprelu", "relu-l1"}) {
    SCOPED_TRACE(kind);
    ok("train --model " + kind + " --data acts.npy --epochs 2 --out run-" + kind + kSmall);
    const fs::path run = path("run-" + kind);
    const Csv csv = read_csv(run / "metrics.csv");
    ASSERT_EQ(csv.rows.size(), 2u);
    for (const char* c : {"train_penalty", "l0", "dead_fraction", "dense_fraction", "mse", "fvu",
                          "explained_variance", "dead_latents", "auxk"})
      EXPECT_NE(std::find(csv.header.begin(), csv.header.end(), c), csv.header.end()) << c;
    // jumprelu starts with every latent above its small threshold active (FVU above 1): the
    // last epoch's is checked.
    const double last = csv.at(1, "fvu");
    EXPECT_GT(last, 0);
    EXPECT_LT(last, 1.5);
    for (size_t e = 0; e < 2; ++e) {
      const double fvu = csv.at(e, "fvu");
      EXPECT_GT(fvu, 0);
      EXPECT_NEAR(csv.at(e, "explained_variance"), 1 - fvu, 1e-6);
      EXPECT_GT(csv.at(e, "mse"), 0);
      EXPECT_GE(csv.at(e, "dead_latents"), 0);
      EXPECT_LE(csv.at(e, "dead_latents"), 128);
      EXPECT_NEAR(csv.at(e, "dead_fraction"), csv.at(e, "dead_latents") / 128, 1e-9);
    }
    if (kind == "topk") {
      EXPECT_GT(csv.at(1, "l0"), 2);   // k = 4 active, but for pre-activations at or below 0
      EXPECT_LE(csv.at(1, "l0"), 4);
    }
    // The resolved settings are in config.json: --resume and --config repeat them.
    const nlohmann::json config = nlohmann::json::parse(read_text(run / "config.json"));
    EXPECT_EQ(config["model"]["latents"], 128);
    EXPECT_EQ(config["model"]["dead_after"], 1843);  // min(1e7, the 90% training rows)
    EXPECT_EQ(config["resolved"]["normalize"], "mean_norm");
    // metrics.json keeps the figures for --resume.
    const nlohmann::json metrics = nlohmann::json::parse(read_text(run / "metrics.json"));
    EXPECT_TRUE(metrics["epochs"][1]["code"].contains("fvu"));
    for (const char* f : {"loss.png", "firing.png", "sparsity.png"})
      EXPECT_GT(png_size(run / f).first, 0u) << f;
    // Nothing drawn over dense codes of every latent.
    for (const char* f : {"latent.png", "scores.png", "features.png"})
      EXPECT_FALSE(fs::exists(run / f)) << f;
  }
}

TEST_F(CliSae, DefaultLearningRateAndWarmUp) {
  // lr = 4e-4 · √(2^14 / 128) · √(768 / kInputs). 20 epochs of 8 batches of 256 are 160 steps:
  // the warm-up of 1000 steps is cut to a tenth of them, 16, and the first epoch ends at step 8
  // of its 16.
  ok("train --model topk --data acts.npy --epochs 20 --validation 0 --latents 128 --k 4 "
     "--batch-size 256 -q --no-pictures --out run");
  const nlohmann::json config = nlohmann::json::parse(read_text(path("run/config.json")));
  const double lr = 4e-4 * std::sqrt(16384.0 / 128) * std::sqrt(768.0 / kInputs);
  EXPECT_NEAR(config["train"]["lr"].get<double>(), lr, 1e-12);
  EXPECT_EQ(config["train"]["lr_warmup"].get<int64_t>(), 16);
  // Cosine over the run: epoch 0's factor is 1.
  EXPECT_NEAR(read_csv(path("run/metrics.csv")).at(0, "lr"), lr * 8 / 16, 1e-8 * lr);  // 9 digits
  // A warm-up given is kept: step 8 of 1000 after the first epoch.
  ok("train --model topk --data acts.npy --epochs 1 --validation 0 --latents 128 --k 4 "
     "--batch-size 256 --lr-warmup 1000 -q --no-pictures --out run2");
  EXPECT_NEAR(read_csv(path("run2/metrics.csv")).at(0, "lr"), lr * 8 / 1000, 1e-12);
}

// 4 epochs straight and 2 + 2 with --resume: the same parameters, moments, buffers (the
// latents' counters) and metrics.
TEST_F(CliSae, ResumeContinuesExactly) {
  for (const std::string kind : {"topk", "batchtopk"}) {
    SCOPED_TRACE(kind);
    const std::string args = "train --model " + kind + " --data acts.npy --lr-cosine-epochs 4 "
                             "--no-pictures --dead-after 300" + kSmall;
    ok(args + " --epochs 4 --out straight-" + kind);
    ok(args + " --epochs 2 --out split-" + kind);
    ok("train --resume split-" + kind + " --epochs 4 -q --no-pictures");
    expect_same_checkpoint(path("straight-" + kind + "/latest.safetensors"),
                           path("split-" + kind + "/latest.safetensors"));
    const Csv a = read_csv(path("straight-" + kind + "/metrics.csv"));
    const Csv b = read_csv(path("split-" + kind + "/metrics.csv"));
    ASSERT_EQ(b.rows.size(), 4u);
    for (const char* c : {"fvu", "l0", "dead_latents", "lr"})
      EXPECT_EQ(a.at(3, c), b.at(3, c)) << c;
  }
}

TEST_F(CliSae, StreamsANpyFileAndAFolderOfShards) {
  fs::create_directories(path("shards"));
  write_activations(path("shards/a.npy"), 1024, 2);
  write_activations(path("shards/b.npy"), 1024, 3);
  std::vector<std::string> runs;
  for (const std::string kind : {"topk", "batchtopk", "jumprelu", "relu-l1"}) {
    ok("train --model " + kind + " --data acts.npy --stream --epochs 2 --out file-" + kind + kSmall);
    ok("train --model " + kind + " --data shards --stream --epochs 2 --validation 0 --out folder-" +
       kind + kSmall);
    runs.push_back("file-" + kind);
    runs.push_back("folder-" + kind);
  }
  for (const std::string& run : runs) {
    const Csv csv = read_csv(path(run) / "metrics.csv");
    ASSERT_EQ(csv.rows.size(), 2u) << run;
    EXPECT_LT(csv.at(1, "fvu"), 1.5) << run;
    EXPECT_EQ(nlohmann::json::parse(read_text(path(run) / "config.json"))["resolved"]["normalize"],
              "mean_norm");
  }
}

TEST_F(CliSae, CommandsServeTheRunOrRefuseIt) {
  const Result trained = ok("train --model topk --data acts.npy --epochs 1 --out run --no-pictures "
                            "--latents 128 --k 4 --batch-size 64 --lr-warmup 10");
  // The log says that ae chose the input scaling, and why: --normalize was not given.
  const std::string log = trained.out + trained.err;
  EXPECT_NE(log.find("normalize: mean_norm (--normalize auto: the sparse autoencoders' default: "
                     "a mean norm of √d"),
            std::string::npos)
      << log;
  ok("encode run --out codes.npy");
  const io::Array codes = io::read_npy(path("codes.npy").string());
  ASSERT_EQ(codes.shape.size(), 2u);
  EXPECT_EQ(codes.shape[1], 128);
  ok("eval run");
  ok("reconstruct run --out r.png");
  fails("score run", {"sparse autoencoder", "128 latents", "score"});
  fails("pca run", {"sparse autoencoder", "pca"});
}

TEST_F(CliSae, RefusesBadSettingsInOneLine) {
  const std::string data = " --data acts.npy --epochs 1 -q";
  fails("train --model topk --penalty l1" + data, {"--model topk takes no --penalty", "l1"});
  fails("train --model topk --latents 16 --k 32" + data, {"--k 32 exceeds --latents 16"});
  fails("train --model batchtopk --k 600" + data, {"--k 600 exceeds the 512 latents"});
  fails("train --model topk --k 0" + data, {"--k (model.k) must be >= 1, got 0"});
  fails("train --model ae --k 5" + data, {"--k is a setting of the sparse autoencoders"});
  fails("train --model jumprelu --bandwidth 0" + data, {"--bandwidth", "positive"});
  fails("train --model topk --decoder-bias-init mode" + data, {"--decoder-bias-init", "mode"});
  fails("train --model topk --unit-norm-decoder yes" + data, {"--unit-norm-decoder", "yes"});
  fails("train --model topk --penalty-weight 3" + data, {"--penalty-weight is λ of relu-l1"});
  fails("train --model topk --lr-warmup -1" + data, {"--lr-warmup", "-1"});
  fails("train --model topk --noise masking" + data, {"takes no --noise"});
  // The default batch of 4096 over fewer training rows, streamed: the rows are named, not the
  // buffer.
  fails("train --model topk --stream" + data,
        {"--batch-size 4096 exceeds the 1840 training rows of", "acts.npy: lower --batch-size"});
  // Activations saved as (batch, tokens, width) are not read as pictures of tokens × width, in
  // memory or streamed; nothing is written.
  std::vector<float> tokens(20 * 8 * kInputs, 0.5f);
  io::write_npy(path("tokens.npy").string(), {20, 8, kInputs}, tokens.data());
  const std::string reshape = "x.reshape(-1, " + std::to_string(kInputs) + ")";
  fails("train --model topk --data tokens.npy --out t -q",
        {"tokens.npy: samples of shape (8, " + std::to_string(kInputs) + ")", reshape});
  fails("train --model batchtopk --data tokens.npy --stream --batch-size 4 --out t -q", {reshape});
  EXPECT_FALSE(fs::exists(path("t")));
}

// mean_norm: one scale for every feature, the first rows' mean norm made √d, no shift.
TEST(MeanNorm, ScalesTheMeanRowNormToRootD) {
  const std::vector<float> x = activations(300, 4);
  const Tensor t = Tensor::from_host(std::vector<double>(x.begin(), x.end()), {300, kInputs},
                                     Device::cpu());
  const models::Normalizer n = models::fit_normalizer(t, models::NormKind::mean_norm);
  const std::vector<double> y = n.apply(t).to_vector();
  double norms = 0;
  for (int64_t r = 0; r < 300; ++r) {
    double sq = 0;
    for (int64_t j = 0; j < kInputs; ++j) sq += y[r * kInputs + j] * y[r * kInputs + j];
    norms += std::sqrt(sq) / 300;
  }
  EXPECT_NEAR(norms, std::sqrt(static_cast<double>(kInputs)), 1e-9);
  for (int64_t j = 0; j < kInputs; ++j) {
    EXPECT_EQ(n.shift[j], 0);
    EXPECT_EQ(n.scale[j], n.scale[0]);
  }
  EXPECT_EQ(models::parse_norm_kind("mean_norm"), models::NormKind::mean_norm);
}

// ae export, ae import and ae train --init: the SAELens and sparsify folders give the run's
// codes and reconstructions on the data as it is (the run's mean_norm folded into the weights),
// the analysis commands read them directly, and training starts from their weights.
void expect_same_rows(const fs::path& a, const fs::path& b, double tolerance) {
  const io::Array x = io::read_npy(a.string()), y = io::read_npy(b.string());
  ASSERT_EQ(x.shape, y.shape) << a << " " << b;
  double scale = 0;
  for (float v : y.data) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (size_t i = 0; i < x.data.size(); ++i)
    ASSERT_NEAR(x.data[i], y.data[i], tolerance * scale) << a << " vs " << b << " at " << i;
}

TEST_F(CliSae, ExportedImportedAndInitialisedSaesComputeTheRunsFunction) {
  ok("train --model topk --data acts.npy --epochs 1 --out run" + kSmall);
  ok("export run --format saelens -o sl");
  ok("export run --format sparsify -o sp");
  EXPECT_TRUE(fs::exists(path("sl/sae_weights.safetensors")));
  EXPECT_TRUE(fs::exists(path("sp/sae.safetensors")));
  ok("import sl -o imported");
  ok("train --init sl --data acts.npy --epochs 1 --lr 1e-30 --batch-size 64 -q --out continued");
  for (const char* source : {"run", "sl", "sp", "imported", "continued"}) {
    ok(cat("encode ", source, " --data acts.npy -o codes-", source, ".npy"));
    ok(cat("reconstruct ", source, " --data acts.npy -o recon-", source, ".npy"));
  }
  // float32 rounding: sums of 32 products, the normaliser folded in float64.
  for (const char* other : {"sl", "sp", "imported", "continued"}) {
    SCOPED_TRACE(other);
    expect_same_rows(path(cat("codes-", other, ".npy")), path("codes-run.npy"), 1e-5);
    expect_same_rows(path(cat("recon-", other, ".npy")), path("recon-run.npy"), 1e-5);
  }
  // --init took the SAE's settings and left the data as it is.
  const std::string config = read_text(path("continued/config.json"));
  EXPECT_NE(config.find("\"normalize\": \"none\""), std::string::npos) << config;
  EXPECT_NE(config.find("\"latents\": 128"), std::string::npos) << config;
}

TEST_F(CliSae, ExportAndInitRefuseWhatTheyCannotDoInOneLine) {
  ok("train --model jumprelu --data acts.npy --epochs 1 --out jump" + kSmall);
  fails("export jump --format sparsify -o sp", {"sparsify's SAEs are TopK, this one is jumprelu"});
  EXPECT_FALSE(fs::exists(path("sp")));
  fails("export jump --format onnx -o x", {"--format: unknown value 'onnx' (saelens, sparsify)"});
  ok("export jump --format saelens -o sl");
  fails("export jump --format saelens -o sl", {"sl/cfg.json exists already"});
  ok("train --model ae --data acts.npy --epochs 1 --out plain -q");
  fails("export plain --format saelens -o p", {"not a sparse autoencoder"});
  fails("train --init sl --model topk --data acts.npy --out t", {"--model topk differs from the SAE of --init sl: jumprelu"});
  fails("train --init sl --latents 64 --data acts.npy --out t", {"--latents 64 differs from the SAE of --init sl: 128 latents"});
  fails("train --init sl --normalize standardize --data acts.npy --out t", {"--normalize standardize would change what it reads"});
  fails("train --init acts.npy --data acts.npy --out t", {"acts.npy: not a SAELens or sparsify folder"});
  EXPECT_FALSE(fs::exists(path("t")));
  // An ae run is no SAELens folder: refused before anything is written.
  fails("import jump -o imported", {"ae import: jump is not a SAELens or sparsify folder"});
  fails("import nowhere -o imported", {"ae import: nowhere does not exist"});
  EXPECT_FALSE(fs::exists(path("imported")));
  // A folder holding either format's weights is not written into.
  fs::create_directories(path("mixed"));
  fs::copy_file(path("sl/sae_weights.safetensors"), path("mixed/sae_weights.safetensors"));
  ok("train --model topk --data acts.npy --epochs 1 --out top" + kSmall);
  fails("export top --format sparsify -o mixed", {"mixed/sae_weights.safetensors exists already"});
  EXPECT_FALSE(fs::exists(path("mixed/sae.safetensors")));
  // The folder has no data of its own; outputs do not go into it.
  fails("eval sl", {"records no data file", "give the activations with --data"});
  ok("encode sl --data acts.npy");
  EXPECT_TRUE(fs::exists(path("codes.npy")));
  EXPECT_FALSE(fs::exists(path("sl/codes.npy")));
  // --init without --model: the SAE's kind and its defaults (batch 4096, cosine), as --model
  // would give; a resumed run does not read the folder again.
  ok("train --init sl --data acts.npy --epochs 1 -q --out from-init");
  const std::string config = read_text(path("from-init/config.json"));
  EXPECT_NE(config.find("\"batch_size\": 4096"), std::string::npos) << config;
  EXPECT_NE(config.find("\"kind\": \"jumprelu\""), std::string::npos) << config;
  fs::remove_all(path("sl"));
  ok("train --resume from-init --epochs 2 -q");
}

}  // namespace
}  // namespace ae::testing_cli
