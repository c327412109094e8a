// Communicators: the collective operations data-parallel training needs, over the processes
// ("ranks") of one job. Each rank trains on its own shard of every global batch; once per step the
// ranks sum their gradients (all_reduce_sum over the flat gradient buffer), so every rank applies
// the same update and the parameters stay identical without being broadcast.
//
// Implementations (chosen by make_communicator):
//   single  one process, size 1: every collective is the identity. Always built.
//   mpi     MPI_COMM_WORLD (core/comm_mpi.cpp; built when CMake finds MPI, AE_MPI=AUTO|ON|OFF).
//           Device buffers are staged through the host.
//   nccl    one CUDA device per rank (cuda:local_rank() modulo the devices), collectives on ae's
//           stream of that device (core/comm_nccl.cpp; built with the CUDA backend when the
//           toolkit has nccl.h, AE_NCCL=AUTO|ON|OFF; NCCL itself is opened on first use).
//           Bootstrapped through MPI under mpirun, else through a shared id file (AE_NCCL_ID_FILE
//           with AE_RANK and AE_WORLD_SIZE), else one rank alone. Chosen by AE_COMM=nccl.
// This header names no MPI or NCCL type: code above core/ (models/, tools/) sees only this
// interface, so an implementation is added without touching the trainer.
//
// Ordering: a collective on a buffer of device d runs after the work already queued on d's
// stream (core/device.h), and its result is visible to work queued on that stream after it
// returns; the host reads the result after synchronize(d) (the MPI and single implementations
// finish before returning). Every rank must call the same collectives in the same order with the
// same sizes; a collective some rank never reaches waits forever, which is why a failing rank
// calls abort() rather than returning.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "kernels/types.h"

namespace ae {

enum class CommKind : uint8_t { single, mpi, nccl };
const char* comm_kind_name(CommKind kind);  // "single", "mpi", "nccl"

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual CommKind kind() const = 0;
  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;  // the number of ranks, >= 1

  // In place: each of the n elements of `data` (dtype f32 or f64, on `device`) becomes the sum of
  // that element over all ranks. The order of the additions is the implementation's (MPI's
  // reduction tree), so the result may differ from a sequential sum by float rounding, but every
  // rank receives the same bits. Throws ae::Error for another dtype or n < 0.
  virtual void all_reduce_sum(void* data, int64_t n, DType dt, Device device) = 0;
  // In place: the `bytes` bytes at `data` (on `device`) of rank `root` are copied to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root, Device device) = 0;
  // Returns on every rank once all ranks have called it.
  virtual void barrier() = 0;
  // Ends every rank of the job with exit status `code` (MPI_Abort for MPI); for one process,
  // std::exit(code). Call it after printing the error, never while others may still recover.
  [[noreturn]] virtual void abort(int code) = 0;
};

// For implementations: throws ae::Error unless dt is f32 or f64, n >= 0 and data is set when n > 0.
void check_comm_buffer(const char* op, const void* data, int64_t n, DType dt);

// Whether a launcher started this process as one of several ranks: Open MPI's mpirun
// (OMPI_COMM_WORLD_SIZE), MPICH's and Slurm's PMI (PMI_SIZE, PMIX_SIZE, PMIX_RANK). `size`, when
// given, receives the number of ranks it says (0 when it does not say).
bool launched_as_ranks(int* size = nullptr);
// This process's rank in its job as the launcher says it (OMPI_COMM_WORLD_RANK, PMI_RANK,
// PMIX_RANK), without starting a communicator; 0 when none says (one process) or the value is not
// a rank. main uses it to print an error found before any communicator exists (a flag CLI11
// refuses) once, from rank 0, rather than once per rank.
int launcher_rank();

// An error that every rank of the job raises together, because the same collectives told each of
// them the same outcome (run/ranks.h: the ranks disagree on their data or settings). Unlike any
// other error it needs no abort(): main prints what() where it is not empty (the ranks with
// something to say), waits for the other ranks (barrier) and ends each with exit code 2.
class JobError : public Error {
 public:
  using Error::Error;
};

// Which communicators this build has ("single" always; "mpi" when MPI was found at build time).
bool comm_built(CommKind kind);

// The kind a process launched as it is should use: AE_COMM=single|mpi|nccl when set; else mpi
// when a launcher (mpirun, srun: OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment)
// started it and this build has MPI; else single. Launched by mpirun with more than one rank in a
// build without MPI is an ae::Error (each rank would train alone on everything).
CommKind choose_comm_kind();

// A new communicator of `kind`; throws ae::Error naming the kind when this build lacks it. At most
// one MPI communicator may live in a process (MPI is initialised once).
std::unique_ptr<Communicator> make_communicator(CommKind kind);

// The process's communicator, made on first use with make_communicator(choose_comm_kind()) and
// kept until exit. world_if_made() returns it, or null before the first world() call (main uses
// it to abort every rank on an error without starting MPI for a command that never used it).
Communicator& world();
Communicator* world_if_made();
// Destroys the process's communicator, if made (MPI: MPI_Finalize; NCCL: ncclCommDestroy and its
// device buffers). main() calls it before returning, while the CUDA runtime and NCCL are still up:
// left to static destruction, it would run after they have shut down (and after a
// cudaDeviceReset). A later world() makes a new one (not for MPI, which initialises once).
void release_world();

// This process's rank among those on its machine, from the launcher (OMPI_COMM_WORLD_LOCAL_RANK,
// MPI_LOCALRANKID, SLURM_LOCALID), else AE_LOCAL_RANK, else AE_RANK, else 0: the NCCL rank's GPU
// is cuda:(local_rank() % devices). Throws ae::Error when the variable is not a number.
int local_rank();

// The rows [begin, end) of a global batch of `rows` rows that rank `rank` of `size` trains on:
// contiguous, in rank order, covering every row once, each within 2 rows of rows / size. Every
// shard starts on an even row: a Gaussian draw takes a Box-Muller pair of Philox draws, and an
// even start keeps each pair within one rank, so that a row receives the noise it gets in a
// one-rank run (train/trainer.h). A shard may be empty when rows < 2 * size.
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
RowRange shard_rows(int64_t rows, int rank, int size);

}  // namespace ae
