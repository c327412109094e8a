// Data-parallel training under mpirun (ctest runs this binary as `mpirun -np 2`): the MPI
// communicator's collectives, and N ranks training the plain, denoising and variational models
// against the one-process run of the same global batches, which every rank also runs in place.
//
// The bound on the parameters: the N-rank and the one-rank runs add the same float terms in
// another order (each rank's part of the batch sum, then the ranks' sum, and the loss weighted by
// b / B), so each SGD step may round each parameter's update differently by about one rounding of
// the parameter itself; over T steps the parameters then differ by at most 2 T u max|p|, u the
// unit roundoff of the dtype (2^-24, 2^-53). SGD, whose update is linear in the gradient: Adam
// divides by the gradient's root mean square, so a gradient near zero whose rounding flips its
// sign moves a parameter by ±lr, and Adam runs are compared by their losses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/comm.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/random.h"
#include "models/autoencoder.h"
#include "models/noise.h"
#include "train/trainer.h"
#include "models/vae.h"

namespace ae {
namespace {

Communicator& comm() { return world(); }

TEST(Mpi, AllReduceSumsEveryRanksValuesAndBroadcastCopiesTheRoots) {
  const int r = comm().rank(), n = comm().size();
  ASSERT_GT(n, 1) << "run under mpirun -np 2";
  // Small integers: every order of summation gives the exact sum.
  for (int64_t count : {1, 5, 100003}) {
    std::vector<float> f(static_cast<size_t>(count));
    std::vector<double> d(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      f[static_cast<size_t>(i)] = static_cast<float>((r + 1) * (i % 17));
      d[static_cast<size_t>(i)] = (r + 1) * 0.5 * static_cast<double>(i % 13);
    }
    comm().all_reduce_sum(f.data(), count, DType::f32, Device::cpu());
    comm().all_reduce_sum(d.data(), count, DType::f64, Device::cpu());
    const double ranks_sum = n * (n + 1) / 2.0;
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(f[static_cast<size_t>(i)], static_cast<float>(ranks_sum * (i % 17))) << i;
      ASSERT_EQ(d[static_cast<size_t>(i)], ranks_sum * 0.5 * static_cast<double>(i % 13)) << i;
    }
  }
  uint64_t value = 1000 + static_cast<uint64_t>(r);
  comm().broadcast(&value, sizeof value, n - 1, Device::cpu());
  EXPECT_EQ(value, 1000u + static_cast<uint64_t>(n - 1));
  comm().barrier();
}

// Every rank holds the same bits as rank 0 (the parameters are never broadcast in training).
void expect_same_on_every_rank(const std::vector<double>& mine, const std::string& what) {
  std::vector<double> root = mine;
  comm().broadcast(root.data(), static_cast<int64_t>(root.size() * sizeof(double)), 0, Device::cpu());
  size_t differ = 0;
  for (size_t i = 0; i < mine.size(); ++i) differ += std::memcmp(&root[i], &mine[i], sizeof(double)) != 0;
  EXPECT_EQ(differ, 0u) << what << ": rank " << comm().rank() << " differs from rank 0";
}

std::vector<double> flat_parameters(const models::Model& m) {
  std::vector<double> out;
  for (const models::Parameter& p : m.parameters()) {
    const std::vector<double> v = p.value.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

enum class Kind { plain, masking, gaussian, vae };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::plain: return "plain";
    case Kind::masking: return "denoising (masking)";
    case Kind::gaussian: return "denoising (gaussian)";
    case Kind::vae: return "variational";
  }
  return "?";
}

std::unique_ptr<models::Model> build(Kind kind, DType dt) {
  if (kind == Kind::vae) {
    models::VaeConfig c;
    c.widths = {21, 16};
    c.latent = 3;  // odd: Box-Muller pairs straddle rows
    c.dtype = dt;
    return std::make_unique<models::Vae>(c, 5);
  }
  models::AutoencoderConfig c;
  c.widths = {21, 12, 5};
  c.dtype = dt;
  if (kind == Kind::masking) c.noise = {models::NoiseKind::masking, 0.3};
  if (kind == Kind::gaussian) c.noise = {models::NoiseKind::gaussian, 0.2};
  return std::make_unique<models::Autoencoder>(c, 5);
}

// n rows of 21 features in (0, 1), the same for every rank.
Tensor rows(int64_t n, DType dt) {
  Generator g(77);
  return sigmoid(g.randn(Shape{n, 21}, DType::f64, Device::cpu()) * 2.0).to(dt);
}

struct Trained {
  std::vector<double> params;
  models::TrainResult result;
  uint64_t offset = 0;
};

Trained train(Kind kind, DType dt, const Tensor& x, const Tensor& val, int64_t batch, Communicator* c,
          models::OptimizerKind opt = models::OptimizerKind::sgd) {
  std::unique_ptr<models::Model> model = build(kind, dt);
  models::TrainerConfig t;
  t.epochs = 5;
  t.batch_size = batch;
  t.optimizer.kind = opt;
  t.optimizer.lr = opt == models::OptimizerKind::sgd ? 0.05 : 3e-3;
  t.shuffle_seed = 3;
  t.restore_best = false;
  t.comm = c;
  Trained r;
  r.result = models::Trainer(t).fit(*model, x, val);
  r.params = flat_parameters(*model);
  r.offset = model->generator().offset();
  return r;
}

TEST(Mpi, RanksTrainTheOneProcessModelOfTheSameGlobalBatches) {
  ASSERT_GT(comm().size(), 1);
  for (DType dt : {DType::f64, DType::f32}) {
    // 203 training rows in batches of 32 end with 11 rows; batches of 50 with 3, and 201 rows in
    // batches of 40 end with a batch of 1: one rank then has no rows at all.
    for (auto [n, batch] : {std::pair<int64_t, int64_t>{203, 32}, {201, 40}}) {
      const Tensor x = rows(n, dt);
      const Tensor val = slice(rows(n + 37, dt), n, n + 37);
      for (Kind kind : {Kind::plain, Kind::masking, Kind::gaussian, Kind::vae}) {
        SCOPED_TRACE(testing::Message() << kind_name(kind) << ", " << dtype_name(dt) << ", " << n
                                        << " rows in batches of " << batch);
        const Trained one = train(kind, dt, x, val, batch, nullptr);
        const Trained many = train(kind, dt, x, val, batch, &comm());
        ASSERT_EQ(one.params.size(), many.params.size());
        double max_p = 0, max_diff = 0;
        for (size_t i = 0; i < one.params.size(); ++i) {
          max_p = std::max(max_p, std::abs(one.params[i]));
          max_diff = std::max(max_diff, std::abs(one.params[i] - many.params[i]));
        }
        const double u = dt == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
        const int64_t steps = one.result.state.step;
        const double bound = 2.0 * static_cast<double>(steps) * u * max_p;
        EXPECT_LE(max_diff, bound) << steps << " steps";
        if (comm().rank() == 0)
          std::printf("[ measured ] %s, %s, batch %lld: max |p_N - p_1| = %.3g (%.2f of the bound %.3g)\n",
                      kind_name(kind), dtype_name(dt), static_cast<long long>(batch), max_diff,
                      max_diff / bound, bound);
        EXPECT_EQ(many.result.state.step, steps);
        EXPECT_EQ(many.offset, one.offset);  // the noise stream moved as in one process
        // The training and validation losses, summed over the ranks.
        for (size_t e = 0; e < one.result.history.size(); ++e) {
          const models::EpochReport& a = one.result.history[e];
          const models::EpochReport& b = many.result.history[e];
          EXPECT_NEAR(b.train.total, a.train.total, 1e3 * u * std::abs(a.train.total)) << e;
          EXPECT_NEAR(b.val.total, a.val.total, 1e3 * u * std::abs(a.val.total)) << e;
          EXPECT_NEAR(b.val.kl, a.val.kl, 1e3 * u * std::abs(a.val.kl) + 1e-300) << e;
        }
        expect_same_on_every_rank(many.params, "parameters");
      }
    }
  }
}

TEST(Mpi, AdamRunsFollowTheOneProcessLosses) {
  const Tensor x = rows(203, DType::f32);
  const Tensor val = slice(rows(240, DType::f32), 203, 240);
  for (Kind kind : {Kind::masking, Kind::vae}) {
    SCOPED_TRACE(kind_name(kind));
    const Trained one = train(kind, DType::f32, x, val, 32, nullptr, models::OptimizerKind::adam);
    const Trained many = train(kind, DType::f32, x, val, 32, &comm(), models::OptimizerKind::adam);
    for (size_t e = 0; e < one.result.history.size(); ++e)
      EXPECT_NEAR(many.result.history[e].val.total, one.result.history[e].val.total,
                  1e-4 * one.result.history[e].val.total) << e;
    expect_same_on_every_rank(many.params, "parameters");
  }
}

// Validation is shared out by batches and summed: the one-process value up to rounding.
TEST(Mpi, ValidationIsSummedOverTheRanks) {
  for (Kind kind : {Kind::plain, Kind::vae}) {
    std::unique_ptr<models::Model> model = build(kind, DType::f64);
    const Tensor val = rows(101, DType::f64);
    const models::LossValues one = models::evaluate(*model, val, 16);
    const models::LossValues many = models::evaluate(*model, val, 16, &comm());
    EXPECT_NEAR(many.total, one.total, 1e-12 * std::abs(one.total)) << kind_name(kind);
    EXPECT_NEAR(many.kl, one.kl, 1e-12 * std::abs(one.kl)) << kind_name(kind);
  }
}

TEST(Mpi, EagerStepsAreRefusedAndGraphStepsRunFused) {
  std::unique_ptr<models::Model> model = build(Kind::plain, DType::f32);
  models::OptimizerConfig o;
  try {
    models::TrainStep step(*model, o, models::StepOptions{models::StepMode::eager, 0, false, &comm()});
    ADD_FAILURE() << "eager steps over several ranks were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eager steps run in one process only"), std::string::npos)
        << e.what();
  }
  models::TrainStep step(*model, o, models::StepOptions{models::StepMode::graph, 0, false, &comm()});
  EXPECT_EQ(step.mode(), models::StepMode::fused);
  EXPECT_NE(step.note().find("ranks (mpi) cannot be captured"), std::string::npos) << step.note();
}

}  // namespace
}  // namespace ae

int main(int argc, char** argv) {
  ae::Communicator& c = ae::world();
  // Rank 0 prints the whole report; the others only their failures.
  if (c.rank() != 0) GTEST_FLAG_SET(brief, true);
  ::testing::InitGoogleTest(&argc, argv);
  if (c.size() < 2) {
    std::printf("ae_tests_mpi: %d rank; run it under mpirun -np 2 (ctest does)\n", c.size());
    return 1;
  }
  const int failed = RUN_ALL_TESTS() != 0;
  // The job passes only if every rank's tests passed.
  double any = failed;
  c.all_reduce_sum(&any, 1, ae::DType::f64, ae::Device::cpu());
  return any > 0 ? 1 : 0;
}
