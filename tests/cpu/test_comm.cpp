// The communicator interface in one process: the single implementation, the choice of kind, and
// how a global batch is cut into the ranks' shards. The MPI implementation is tested under
// mpirun (tests/mpi/).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/comm.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/random.h"
#include "models/noise.h"
#include "tests/common/step_models.h"

namespace ae {
namespace {

TEST(Comm, SingleProcessCollectivesAreTheIdentity) {
  std::unique_ptr<Communicator> c = make_communicator(CommKind::single);
  EXPECT_EQ(c->kind(), CommKind::single);
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  std::vector<float> f{1.5f, -2.0f, 3.25f};
  c->all_reduce_sum(f.data(), 3, DType::f32, Device::cpu());
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<double> d{0.1, 0.2};
  c->all_reduce_sum(d.data(), 2, DType::f64, Device::cpu());
  EXPECT_EQ(d, (std::vector<double>{0.1, 0.2}));
  uint64_t bits = 42;
  c->broadcast(&bits, sizeof bits, 0, Device::cpu());
  EXPECT_EQ(bits, 42u);
  c->barrier();
  // A missing buffer or a wrong root is an error, not a hang.
  EXPECT_THROW(c->all_reduce_sum(nullptr, 4, DType::f32, Device::cpu()), Error);
  EXPECT_THROW(c->broadcast(&bits, sizeof bits, 1, Device::cpu()), Error);
}

TEST(Comm, ChoosesSingleOutsideALauncherAndReadsAeComm) {
  // ctest does not run under mpirun.
  ASSERT_EQ(std::getenv("OMPI_COMM_WORLD_SIZE"), nullptr);
  EXPECT_EQ(choose_comm_kind(), CommKind::single);
  setenv("AE_COMM", "single", 1);
  EXPECT_EQ(choose_comm_kind(), CommKind::single);
  setenv("AE_COMM", "carrier-pigeon", 1);
  try {
    choose_comm_kind();
    ADD_FAILURE() << "an unknown AE_COMM was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "AE_COMM=carrier-pigeon is not one of single, mpi, nccl");
  }
  unsetenv("AE_COMM");
  EXPECT_TRUE(comm_built(CommKind::single));
  EXPECT_EQ(comm_built(CommKind::mpi), AE_HAVE_MPI != 0);
  if (!comm_built(CommKind::nccl)) EXPECT_THROW(make_communicator(CommKind::nccl), Error);
}

// main() releases the process's communicator before it returns (core/comm.h: release_world), so
// that it is gone before the CUDA runtime and NCCL shut down; world() afterwards makes a new one.
TEST(Comm, ReleasingTheWorldDestroysIt) {
  ASSERT_EQ(std::getenv("AE_COMM"), nullptr);
  Communicator& first = world();
  EXPECT_EQ(world_if_made(), &first);
  EXPECT_EQ(first.kind(), CommKind::single);
  release_world();
  EXPECT_EQ(world_if_made(), nullptr);
  release_world();  // nothing left to release
  EXPECT_EQ(world().kind(), CommKind::single);
  EXPECT_NE(world_if_made(), nullptr);
  release_world();
}

TEST(Comm, ShardsCoverTheBatchFromEvenRowsNearlyEvenly) {
  for (int size = 1; size <= 9; ++size) {
    for (int64_t rows = 0; rows <= 70; ++rows) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const RowRange s = shard_rows(rows, r, size);
        SCOPED_TRACE(::testing::Message() << rows << " rows, rank " << r << " of " << size);
        EXPECT_EQ(s.begin, next);  // contiguous, in rank order
        EXPECT_LE(s.begin, s.end);
        EXPECT_EQ(s.begin % 2, 0);  // Box-Muller pairs never straddle two ranks
        const double even_share = static_cast<double>(rows) / size;
        EXPECT_LT(std::abs(static_cast<double>(s.size()) - even_share), 2.0);
        next = s.end;
      }
      EXPECT_EQ(next, rows);
    }
  }
  EXPECT_EQ(shard_rows(7, 0, 2).size(), 4);
  EXPECT_EQ(shard_rows(7, 1, 2).size(), 3);
  EXPECT_EQ(shard_rows(256, 1, 2).begin, 128);
  EXPECT_EQ(shard_rows(1, 0, 2).size(), 0);  // the last partial batch may leave a rank nothing
  EXPECT_THROW(shard_rows(10, 2, 2), Error);
}

// A rank's draws for rows [begin, end) of a global batch of B rows are exactly those rows of the
// one-rank draws, for every shard of shard_rows, odd row widths and batches included, and the
// generator moves on by the same window either way.
TEST(Comm, ShardedNoiseIsTheOneRankNoiseOfTheSameRows) {
  for (int64_t width : {1, 3, 16, 785}) {
    for (int64_t rows : {1, 7, 32, 33}) {
      for (int ranks : {2, 3}) {
        SCOPED_TRACE(::testing::Message() << rows << " rows of " << width << ", " << ranks << " ranks");
        const Shape shape{rows, width};
        Generator whole(11, 36);
        const std::vector<double> uniform = whole.rand(shape, DType::f32, Device::cpu()).to_vector();
        const std::vector<double> normal = whole.randn(shape, DType::f64, Device::cpu()).to_vector();
        const Tensor x = Tensor::full(shape, 0.5, DType::f32, Device::cpu());
        const models::NoiseConfig salt{models::NoiseKind::salt_and_pepper, 0.4, 0, 1};
        const std::vector<double> corrupted = models::corrupt(x, salt, whole).to_vector();
        for (int r = 0; r < ranks; ++r) {
          const RowRange mine = shard_rows(rows, r, ranks);
          if (mine.size() == 0) continue;
          Generator part(11, 36);
          ShardScope keyed(part, {rows, mine.begin, mine.size()});
          const Shape local{mine.size(), width};
          const std::vector<double> u = part.rand(local, DType::f32, Device::cpu()).to_vector();
          const std::vector<double> n = part.randn(local, DType::f64, Device::cpu()).to_vector();
          const Tensor xl = Tensor::full(local, 0.5, DType::f32, Device::cpu());
          const std::vector<double> c = models::corrupt(xl, salt, part).to_vector();
          const size_t first = static_cast<size_t>(mine.begin * width);
          for (size_t i = 0; i < u.size(); ++i) {
            ASSERT_EQ(u[i], uniform[first + i]) << i;
            ASSERT_EQ(n[i], normal[first + i]) << i;  // Box-Muller pairs kept whole
            ASSERT_EQ(c[i], corrupted[first + i]) << i;
          }
          EXPECT_EQ(part.offset(), whole.offset());
        }
      }
    }
  }
  // A draw that is not a whole number per row is refused rather than misplaced.
  Generator g(1);
  ShardScope keyed(g, {8, 2, 4});
  EXPECT_THROW(g.rand(Shape{6}, DType::f32, Device::cpu()), Error);
}

// One rank of MPI (or NCCL) takes the data-parallel path: the shard is the whole batch, the loss
// weight b / B is 1, the noise keyed by the batch's rows and the sum over one rank the identity.
// It must give the plain step's bits, for every model kind.
class OneRankOf final : public Communicator {
 public:
  explicit OneRankOf(CommKind kind) : kind_(kind) {}
  CommKind kind() const override { return kind_; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(void* data, int64_t n, DType dt, Device) override {
    check_comm_buffer("all_reduce_sum", data, n, dt);
    ++sums;
  }
  void broadcast(void*, int64_t, int, Device) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  int sums = 0;

 private:
  CommKind kind_;
};

TEST(Comm, OneRankOfTheParallelPathGivesThePlainRunsBits) {
  for (testing::StepKind kind : testing::kStepKinds) {
    SCOPED_TRACE(testing::step_kind_name(kind));
    OneRankOf mpi(CommKind::mpi);
    const std::vector<float> plain = testing::train_step_model(kind, Device::cpu(), nullptr);
    const std::vector<float> parallel = testing::train_step_model(kind, Device::cpu(), &mpi);
    EXPECT_EQ(mpi.sums, 3 * 7 + 3);  // one gradient sum per step, one loss sum per epoch
    EXPECT_EQ(plain, parallel);
  }
}

}  // namespace
}  // namespace ae
