// The communicator interface in one process: the single implementation, the choice of kind, and
// how a global batch is cut into the ranks' shards. The MPI implementation is tested under
// mpirun (tests/mpi/).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/comm.h"
#include "core/error.h"

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

TEST(Comm, ShardsCoverTheBatchFromEvenRowsNearlyEvenly) {
  for (int size = 1; size <= 9; ++size) {
    for (int64_t rows = 0; rows <= 70; ++rows) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const RowRange s = shard_rows(rows, r, size);
        SCOPED_TRACE(testing::Message() << rows << " rows, rank " << r << " of " << size);
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

}  // namespace
}  // namespace ae
