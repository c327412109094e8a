// Every ae subcommand end to end, on a small part of MNIST and on a CSV table, plus the other
// ways of giving data (raw IDX files, NPY).
#ifdef AE_CLI_PATH
#include <cmath>
#include <regex>

#include "core/random.h"
#include "data/file.h"
#include "data/npy.h"
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

const std::string kMnist = AE_MNIST_DIR;

bool have_mnist() { return fs::exists(kMnist + "/t10k-images-idx3-ubyte.gz"); }

// The number after `label` in text ("ROC AUC 0.8123" -> 0.8123), NaN when absent.
double number_after(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return NAN;
  return std::strtod(text.c_str() + at + label.size(), nullptr);
}

// The numbers of the score table's row that starts with `method` (after its closing
// parenthesis): threshold, flagged, then ROC AUC, average precision, precision and recall.
std::vector<double> score_row(const std::string& text, const std::string& method) {
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(method, 0) != 0) continue;
    std::stringstream fields(line.substr(line.find(')') + 1));
    std::vector<double> v;
    for (double x; fields >> x;) v.push_back(x);
    return v;
  }
  return {};
}

// Rows of a CSV with a header: 8 features near a 2-D plane for classes 0 and 1, and class 2 off
// it (another plane), with a label column in the middle and comment lines.
std::string plane_csv(int rows, uint64_t seed) {
  Generator gen(seed);
  const std::vector<float> u = gen.rand({rows, 4}).to_floats();
  const std::vector<float> e = gen.randn({rows, 8}).to_floats();
  std::string csv = "# two factors mixed into eight features\nf0,f1,f2,f3,class,f4,f5,f6,f7\n";
  for (int i = 0; i < rows; ++i) {
    const int label = i % 10 == 9 ? 2 : i % 2;
    const double a = 4 * u[4 * i] - 2, b = 4 * u[4 * i + 1] - 2;
    std::string line;
    for (int j = 0; j < 8; ++j) {
      // Normal classes: x_j = a cos(j) + b sin(j); class 2 mixes the factors another way.
      const double v = label == 2 ? a * std::sin(3.0 * j) + b * std::cos(2.0 * j) + 1.5
                                  : a * std::cos(0.7 * j) + b * std::sin(0.7 * j) + 0.3 * label;
      char field[32];
      std::snprintf(field, sizeof field, "%.5f", v + 0.05 * e[8 * i + j]);
      line += (j ? "," : "") + std::string(field);
      if (j == 3) line += "," + std::to_string(label);
    }
    csv += line + "\n";
    if (i == rows / 2) csv += "# halfway\n";
  }
  return csv;
}

using CliCommands = CliTest;

// ae starts again with a short OpenMP spin unless the user chose a wait policy (tools/main.cpp);
// ae info reports what libgomp read.
TEST_F(CliCommands, ShortOpenMpSpinUnlessAPolicyIsChosen) {
  const auto openmp_line = [&](const std::string& env) {
    const fs::path out = path("info.txt");
    const std::string command = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT " + env +
                                " AE_DEVICE=cpu '" + AE_CLI_PATH + "' info >'" + out.string() +
                                "' 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    const std::string text = read_text(out);
    const size_t at = text.find("openmp: ");
    return at == std::string::npos ? text : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_EQ(openmp_line(""), "openmp: GOMP_SPINCOUNT=1000");
  EXPECT_EQ(openmp_line("GOMP_SPINCOUNT=77"), "openmp: GOMP_SPINCOUNT=77");
  EXPECT_EQ(openmp_line("OMP_WAIT_POLICY=active"), "openmp: OMP_WAIT_POLICY=active");
}

// Constant code units after one short epoch: a 2-unit code for MNIST is not too wide, so the
// warning says to train longer rather than to shrink the code.
TEST_F(CliCommands, ConstantCodeWarningFitsANarrowCode) {
  if (!have_mnist()) GTEST_SKIP() << "no MNIST at " << kMnist;
  const Result r = ok("train --model dae --hidden 8 --code 2 --epochs 1 --data '" + kMnist +
                      "' --limit 3000 --no-pictures -q --out narrow");
  EXPECT_EQ(r.err.rfind("ae: warning: 2 of 2 code units constant", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("likely cause: too little training (--epochs 1; train longer)"),
            std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wider"), std::string::npos) << r.err;
}

TEST_F(CliCommands, EverySubcommandOnMnist) {
  if (!have_mnist()) GTEST_SKIP() << "no MNIST at " << kMnist;
  const std::string data = " --data '" + kMnist + "' --limit 1000";
  ok("train" + data + " --epochs 1 --out vae -q");
  ok("train --model dae --code 16 --data '" + kMnist + "' --limit 2000 --exclude-labels 7 "
     "--epochs 5 --out dae -q");

  Result r = ok("eval vae");
  EXPECT_NE(r.out.find("mnist-t10k[validation] (100 samples)"), std::string::npos) << r.out;
  EXPECT_GT(number_after(r.out, "kl "), 0) << r.out;
  EXPECT_GT(number_after(r.out, "squared reconstruction error per sample: "), 0) << r.out;

  ok("reconstruct vae -n 16");
  const auto [w, h] = png_size(path("vae/reconstructions.png"));
  EXPECT_EQ(h, 2u * (28 + 2) * 2) << "two rows of 28-pixel digits, padded, drawn twice as large";
  EXPECT_GT(w, 16u * 28 * 2);

  r = ok("sample vae -n 25 --seed 3");
  EXPECT_GT(png_size(path("vae/samples.png")).first, 0u);
  EXPECT_EQ(png_size(path("vae/traversal.png")).second, (12u * 28 + 13) * 2) << "a 12 x 12 grid";

  r = ok("denoise dae --noise masking --noise-level 0.5");
  // The denoising autoencoder undoes part of the damage.
  EXPECT_LT(number_after(r.out, "restored "), number_after(r.out, "corrupted ")) << r.out;
  EXPECT_EQ(png_size(path("dae/denoise.png")).second, 3u * 30 * 2);

  // Trained without the 7s, the model reconstructs them worse than the rest.
  r = ok("score dae --split all --anomaly-labels 7");
  EXPECT_GT(score_row(r.out, "dae (code 16)").at(2), 0.55) << r.out;
  EXPECT_EQ(count_lines(read_text(path("dae/scores.csv"))), 2001u);
  // By default: the validation split and the 7s, none of them trained on.
  r = ok("score dae -o held-out.csv");
  EXPECT_NE(r.out.find("anomalies: labels 7"), std::string::npos) << r.out;
  EXPECT_GT(score_row(r.out, "dae (code 16)").at(2), 0.55) << r.out;
  EXPECT_EQ(score_row(r.out, "PCA (16 components)").size(), 6u) << r.out;

  r = ok("encode vae --split all -o codes.npy");
  const io::Array codes = io::read_npy(path("codes.npy").string());
  EXPECT_EQ(codes.shape, (std::vector<int64_t>{1000, 2}));
  EXPECT_EQ(read_text(path("codes.csv")).rfind("z1,z2,label\n", 0), 0u);

  r = ok("pca dae");
  EXPECT_NE(r.out.find("PCA, 16 components"), std::string::npos) << r.out;
  EXPECT_GT(number_after(r.out, "ratio model / PCA: "), 0) << r.out;
  EXPECT_TRUE(fs::exists(path("dae/pca.png")));

  r = ok("info vae");
  // 784-256-64-(2, 2)-64-256-784 with biases.
  const int64_t params = (784 * 256 + 256) + (256 * 64 + 64) + 2 * (64 * 2 + 2) + (2 * 64 + 64) +
                         (64 * 256 + 256) + (256 * 784 + 784);
  EXPECT_NE(r.out.find(std::to_string(params)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("encoder.0.weight"), std::string::npos) << r.out;
  r = ok("info --model ae --hidden 32 --code 4");
  EXPECT_NE(r.out.find(std::to_string(64 * 32 + 32 + 32 * 4 + 4 + 4 * 32 + 32 + 32 * 64 + 64)),
            std::string::npos)
      << r.out;
}

TEST_F(CliCommands, EverySubcommandOnCsv) {
  write_text(path("plane.csv"), plane_csv(600, 5));
  const std::string data = " --data plane.csv --label-column class --normalize standardize";
  // A linear autoencoder: one layer each way, no activation.
  ok("train --model ae --hidden none --code 2 --code-activation identity" + data +
     " --exclude-labels 2 --epochs 40 --batch-size 32 --out ae -q");
  Result r = ok("eval ae");
  EXPECT_NE(r.out.find("plane.csv[validation]"), std::string::npos) << r.out;
  ok("reconstruct ae");
  // Rows of 8 values are a table: the error per feature, not pictures.
  EXPECT_FALSE(fs::exists(path("ae/reconstructions.png")));
  if (AE_HAVE_PNG) EXPECT_GT(png_size(path("ae/features.png")).first, 0u);
  ok("denoise ae --noise gaussian --noise-level 0.5");

  // The threshold flags about the contamination's share of the training data itself.
  r = ok("score ae --split train --contamination 0.1 -o train-scores.csv");
  const std::string scores = read_text(path("train-scores.csv"));
  const size_t rows = count_lines(scores) - 1;
  size_t flagged = 0;
  std::stringstream in(scores);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,score,anomaly,pca_score,label");
  while (std::getline(in, line)) flagged += line.find(",1,") != std::string::npos;
  EXPECT_NEAR(static_cast<double>(flagged) / static_cast<double>(rows), 0.1, 0.02) << r.out;
  // Class 2 lies off the plane the model learned: its samples score far higher.
  r = ok("score ae --split all --anomaly-labels 2");
  EXPECT_NE(r.out.find("training samples the model was fitted on included"), std::string::npos)
      << r.out;
  const std::vector<double> all = score_row(r.out, "ae (code 2)");
  ASSERT_EQ(all.size(), 6u) << r.out;
  EXPECT_GT(all[2], 0.9) << r.out;  // ROC AUC
  EXPECT_GT(all[5], 0.8) << r.out;  // recall

  ok("encode ae --split all");
  const io::Array codes = io::read_npy(path("ae/codes.npy").string());
  EXPECT_EQ(codes.shape, (std::vector<int64_t>{600, 2}));
  EXPECT_EQ(count_lines(read_text(path("ae/codes.csv"))), 601u);

  // On its training data, a linear autoencoder with a 2-D code trained on squared error spans
  // the top two principal components at best: its error comes close to PCA's from above.
  r = ok("pca ae --split train");
  EXPECT_GE(number_after(r.out, "ratio model / PCA: "), 0.999) << r.out;
  EXPECT_LT(number_after(r.out, "ratio model / PCA: "), 1.2) << r.out;

  // A VAE on the same table samples and walks its latent space.
  ok("train --model vae --hidden 16" + data + " --epochs 3 --out vae -q");
  ok("sample vae -n 8");
  EXPECT_EQ(count_lines(read_text(path("vae/samples.csv"))), 9u) << "a header and 8 samples";
  r = ok("info vae");
  EXPECT_NE(r.out.find("normaliser: standardize"), std::string::npos) << r.out;
}

// `eval --data FILE` evaluates every row of the file (--split chooses among the run's own data
// only), and says so: all N samples (the first N with --limit), and whether the file is the one
// the run trained on, so that its training samples are among them.
TEST_F(CliCommands, EvalOfAFileSaysWhichRowsItEvaluated) {
  write_text(path("plane.csv"), plane_csv(600, 5));
  write_text(path("other.csv"), plane_csv(300, 6));
  const std::string labels = " --label-column class";
  ok("train --model ae --hidden none --code 2 --data plane.csv" + labels +
     " --epochs 1 --batch-size 32 --no-pictures --out ae -q");
  Result r = ok("eval ae --data plane.csv" + labels);
  EXPECT_NE(r.out.find("(all 600 samples of plane.csv, the file the run was trained on: its "
                       "training samples included)"), std::string::npos) << r.out;
  r = ok("eval ae --data other.csv" + labels);
  EXPECT_NE(r.out.find("(all 300 samples of other.csv)"), std::string::npos) << r.out;
  r = ok("eval ae --data plane.csv --limit 100" + labels);
  EXPECT_NE(r.out.find("(the first 100 samples of plane.csv, the file the run was trained on"),
            std::string::npos) << r.out;
}

// A run trained without a class is scored by default on what it never saw: its validation
// split and the left-out class, the anomalies, with the PCA baseline in the same table; each
// row of scores.csv names its row in the source file.
TEST_F(CliCommands, ScoreHeldOutDataBesideThePcaBaseline) {
  write_text(path("plane.csv"), plane_csv(600, 5));
  ok("train --model ae --hidden none --code 2 --code-activation identity --data plane.csv "
     "--label-column class --normalize standardize --exclude-labels 2 --epochs 40 "
     "--batch-size 32 --out ae -q");
  Result r = ok("score ae");
  // 600 rows: 60 of class 2; of the other 540, a validation tenth of the whole set (about 54).
  EXPECT_NE(r.out.find("never trained on"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("anomalies: labels 2, 60 of"), std::string::npos) << r.out;
  const std::vector<double> model = score_row(r.out, "ae (code 2)");
  const std::vector<double> pca = score_row(r.out, "PCA (2 components)");
  ASSERT_EQ(model.size(), 6u) << r.out;
  ASSERT_EQ(pca.size(), 6u) << r.out;
  // A linear autoencoder spans PCA's plane: both separate class 2 about equally well.
  EXPECT_GT(model[2], 0.9) << r.out;
  EXPECT_GT(pca[2], 0.9) << r.out;
  EXPECT_NEAR(model[2], pca[2], 0.05) << r.out;
  EXPECT_GT(model[3], 0.5) << r.out;  // average precision, against 60 / ~114 by chance

  // index: the row in plane.csv (comments and header not counted); its label is that row's.
  std::vector<int> source_labels;
  for (int i = 0; i < 600; ++i) source_labels.push_back(i % 10 == 9 ? 2 : i % 2);
  std::stringstream in(read_text(path("ae/scores.csv")));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,score,anomaly,pca_score,label");
  int rows = 0, anomalies = 0, previous = -1;
  while (std::getline(in, line)) {
    int index = -1, label = -1, flagged = 0;
    double score = 0, pca_score = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%lf,%d,%lf,%d", &index, &score, &flagged, &pca_score,
                          &label), 5) << line;
    ASSERT_GE(index, 0);
    ASSERT_LT(index, 600);
    EXPECT_EQ(label, source_labels[index]) << line;
    EXPECT_GT(index, previous) << "rows in the order of the file";
    previous = index;
    ++rows;
    anomalies += label == 2;
  }
  EXPECT_EQ(anomalies, 60);
  EXPECT_NEAR(rows - 60, 54, 12);  // the validation samples of classes 0 and 1

  // A label no row carries fails before anything is written: scores.csv stays as it was.
  const std::string before = read_text(path("ae/scores.csv"));
  r = fails("score ae --anomaly-labels 5", {"--anomaly-labels", "none of the", "labels 0, 1, 2"});
  EXPECT_LT(r.err.size(), 200u) << r.err;
  EXPECT_EQ(read_text(path("ae/scores.csv")), before);
  fails("score ae --split all --anomaly-labels 5 -o other.csv", {"--anomaly-labels"});
  EXPECT_FALSE(fs::exists(path("other.csv")));
}

TEST_F(CliCommands, OtherDataFormats) {
  if (have_mnist()) {
    // Raw (not gzip'd) IDX files; the labels file beside the images is found by its name.
    for (const char* name : {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      const io::Bytes raw = io::read_file_inflated(kMnist + "/" + name + ".gz");
      io::write_file_atomic(path(name).string(), raw);
    }
    Result r = ok("train --data t10k-images-idx3-ubyte --limit 300 --epochs 1 --out idx");
    EXPECT_NE(r.out.find("270 training and 30 validation"), std::string::npos) << r.out;
    ok("encode idx --split all");
    EXPECT_NE(read_text(path("idx/codes.csv")).find(",label\n"), std::string::npos);
  }
  // NPY samples with an NPY labels file.
  Generator gen(9);
  const std::vector<float> x = gen.rand({200, 6}).to_floats();
  std::vector<int64_t> labels(200);
  for (int i = 0; i < 200; ++i) labels[i] = i % 3;
  io::write_npy(path("x.npy").string(), {200, 6}, x.data());
  io::write_npy(path("y.npy").string(), {200}, labels.data());
  ok("train --data x.npy --labels y.npy --model ae --code 2 --epochs 2 --validation 0.2 --out npy -q");
  Result r = ok("score npy --split all --anomaly-labels 0");
  EXPECT_NE(r.out.find("anomalies: labels 0, 67 of 200"), std::string::npos) << r.out;
  // CSV without a header, label by index, a different delimiter.
  write_text(path("plain.txt"), "0.1;0.2;1\n0.3;0.4;0\n0.5;0.6;1\n0.7;0.8;0\n0.2;0.1;1\n");
  ok("train --data plain.txt --delimiter ';' --label-column 2 --header no --model ae --code 1 "
     "--hidden none --epochs 1 --validation 0 --out txt -q");
  r = ok("info txt");
  EXPECT_NE(r.out.find("\"widths\":[2,1]"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ae::testing_cli
#endif  // AE_CLI_PATH
