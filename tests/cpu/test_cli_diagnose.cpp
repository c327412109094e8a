// What ae train and ae sample say when a model learns nothing useful: the code check names the
// cause (a corruption that destroys the input, too strong a penalty), a sparse code's firing is
// recorded per epoch, refused settings say why in the user's terms, and samples from a VAE whose
// codes do not fill the prior come with a warning.
#ifdef AE_CLI_PATH
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/random.h"
#include "data/npy.h"
#include "tests/cpu/test_cli_util.h"

namespace ae::testing_cli {
namespace {

using CliDiagnose = CliTest;

// Small and quick: a few hundred of the built-in 8x8 shapes, values in [0, 1].
const std::string kShapes = " --shapes-samples 600 --batch-size 32 --no-pictures -q";

// The last row of a metrics.csv as column -> text.
std::map<std::string, std::string> last_row(const std::string& csv) {
  std::stringstream in(csv);
  std::string header, line, last;
  std::getline(in, header);
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  std::map<std::string, std::string> row;
  std::stringstream h(header), v(last);
  std::string name, value;
  while (std::getline(h, name, ',')) {
    std::getline(v, value, ',');
    row[name] = value;
  }
  return row;
}

// A corruption that leaves nothing of the input trains a mean predictor; the warning names the
// corruption, not the epochs or the learning rate.
TEST_F(CliDiagnose, DestroyingNoiseIsNamedAsTheCause) {
  for (const std::string noise : {"gaussian --noise-level 50", "masking --noise-level 1"}) {
    const Result r = ok("train --model dae --epochs 3 --out run --noise " + noise + kShapes);
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("ae: warning: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("no better than predicting their mean"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("likely cause: the corruption ("), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("leaves no signal to reconstruct from; lower --noise-level"),
              std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("--epochs"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("--lr"), std::string::npos) << r.err;
    if (noise.rfind("gaussian", 0) == 0)
      EXPECT_NE(r.err.find("gaussian σ=50 on data with std 0.3"), std::string::npos) << r.err;
    fs::remove_all(path("run"));
  }
  // The same model with a corruption it can see through trains without a word.
  EXPECT_EQ(ok("train --model dae --epochs 3 --out clean" + kShapes).err, "");
}

// Rows of pure noise: no code of 16 units reconstructs held-out rows better than their mean. The
// warning says so, and blames the data rather than the training time.
TEST_F(CliDiagnose, StructurelessDataIsNamedAsTheCause) {
  Generator gen(3);
  const std::vector<float> x = gen.randn({300, 200}).to_floats();
  io::write_npy(path("noise.npy").string(), {300, 200}, x.data());
  const Result r = ok("train --model ae --data noise.npy --epochs 2 --out run --no-pictures -q");
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("no better than predicting their mean"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("likely cause: data with little structure for a code of 16 units (PCA's "
                       "top 16 components explain "),
            std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--epochs"), std::string::npos) << r.err;
}

// A ReLU code under a strong L1 penalty: a good share of its 256 units never fire. One warning
// names them and the penalty; metrics.csv records L0 and the dead and dense shares every epoch.
TEST_F(CliDiagnose, DeadReluUnitsAreCountedAndWarnedAbout) {
  const Result r = ok("train --model ae --code 256 --code-activation relu --penalty l1 "
                      "--penalty-weight 0.3 --lr 0.003 --epochs 5 --out run" + kShapes);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("ae: warning: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(" of 256 code units never fire over the 60 validation samples (units "),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("likely cause: too strong a penalty (--penalty l1 with --penalty-weight 0.3)"),
            std::string::npos) << r.err;
  const int dead = std::stoi(r.err.substr(std::string("ae: warning: ").size()));
  EXPECT_GE(dead, 64);
  EXPECT_LE(dead, 128);

  const std::string csv = read_text(path("run/metrics.csv"));
  EXPECT_NE(csv.find(",samples_per_second,l0,dead_fraction,dense_fraction\n"), std::string::npos) << csv;
  std::map<std::string, std::string> row = last_row(csv);
  const double l0 = std::stod(row["l0"]), dead_fraction = std::stod(row["dead_fraction"]),
               dense = std::stod(row["dense_fraction"]);
  EXPECT_GT(l0, 1);
  EXPECT_LT(l0, 256 * (1 - dead_fraction));  // the live units do not all fire on every sample
  EXPECT_GT(dead_fraction, 0.15);
  EXPECT_LT(dead_fraction, 0.6);
  EXPECT_GT(dense, 0);
  EXPECT_LE(dense + dead_fraction, 1);
  const nlohmann::json metrics = nlohmann::json::parse(read_text(path("run/metrics.json")));
  EXPECT_NEAR(metrics["epochs"].back()["code"]["l0"].get<double>(), l0, 1e-6 * l0);

  // A sigmoid code without a sparsity penalty is not sparse: no such columns.
  ok("train --model ae --epochs 1 --out dense" + kShapes);
  EXPECT_EQ(read_text(path("dense/metrics.csv")).find("l0"), std::string::npos);
}

// A VAE trained with a tiny β: its codes spread far beyond the prior, so ae sample warns with
// the aggregate posterior's figures; the plain ELBO's codes match the prior and sample quietly.
TEST_F(CliDiagnose, SampleWarnsWhenTheCodesMissThePrior) {
  ok("train --model vae --beta 0.001 --code 8 --epochs 10 --out low" + kShapes);
  const Result low = ok("sample low");
  EXPECT_EQ(count_lines(low.err), 1u) << low.err;
  EXPECT_EQ(low.err.rfind("ae: warning: the training codes' aggregate posterior is far from the "
                          "prior N(0, I)", 0), 0u) << low.err;
  EXPECT_NE(low.err.find("its variance per latent dimension runs from "), std::string::npos);
  EXPECT_NE(low.err.find("a larger --beta"), std::string::npos);

  ok("train --model vae --code 8 --epochs 10 --out plain" + kShapes);
  EXPECT_EQ(ok("sample plain").err, "");
}

}  // namespace
}  // namespace ae::testing_cli
#endif  // AE_CLI_PATH
