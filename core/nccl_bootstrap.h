// What the NCCL communicator (core/comm_nccl.cpp) decides without NCCL or a GPU, kept apart from
// the NCCL and CUDA calls so that every build tests it on any machine:
//   nccl_bootstrap          how the ranks find each other, or why they cannot (refused in one line)
//   publish_nccl_id,        rank 0's unique id through a file every rank sees, never a file left
//   read_nccl_id              by an earlier job
//   nccl_collective_device  the device a collective runs on
//   wait_for_ranks          the host's wait for queued collectives: NCCL's asynchronous error
//                           polled, and a timeout naming the rank
// Every wait is bounded by AE_NCCL_TIMEOUT seconds (nccl_timeout_seconds, default 600).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/device.h"

namespace ae {

// How the ranks of an NCCL communicator meet, from the environment:
//   mpi    launched by mpirun/srun (launched_as_ranks, core/comm.h) in a build with MPI: rank 0's id
//          is broadcast over MPI_COMM_WORLD (rank and size come from MPI);
//   file   AE_NCCL_ID_FILE set: rank 0 writes its id there, the others read it (rank and size from
//          AE_RANK and AE_WORLD_SIZE, 0 <= rank < size);
//   alone  one rank, size 1.
struct NcclBootstrap {
  enum class Kind : uint8_t { mpi, file, alone };
  Kind kind = Kind::alone;
  int rank = 0, size = 1;  // file: AE_RANK, AE_WORLD_SIZE; alone: 0, 1; mpi: filled in from MPI
  std::string file;        // AE_NCCL_ID_FILE
};

// The bootstrap this process takes (`mpi_built`: whether this build has MPI). Throws ae::Error, one
// line, where a rank would otherwise train alone while others run: a launcher says several ranks
// (or does not say how many) and neither MPI nor AE_NCCL_ID_FILE can join them; AE_WORLD_SIZE > 1
// without AE_NCCL_ID_FILE; AE_RANK or AE_WORLD_SIZE missing or out of range with the file; a
// launcher's number of ranks other than AE_WORLD_SIZE.
NcclBootstrap nccl_bootstrap(bool mpi_built);

// AE_NCCL_TIMEOUT (seconds, a positive integer), else 600. Throws ae::Error for another value.
int nccl_timeout_seconds();

// The NCCL unique id's bytes (sizeof(ncclUniqueId)).
using NcclIdBytes = std::array<char, 128>;

// Rank 0: writes `id` to `file` through a temporary beside it renamed into place, so that a reader
// sees the whole id or no file. Throws ae::Error naming the path when it cannot.
void publish_nccl_id(const std::string& file, const NcclIdBytes& id);

// Ranks > 0: the id in `file` once rank 0 has written it, polling every 50 ms for up to `timeout`.
// A file last written before `not_before` (process_start_time: this rank's start, less the 30 s
// within which the ranks of one job start) was left by an earlier job, whose rank 0 is gone, and
// is waited past like a missing one. (Rank 0 removes the file once every rank has joined, and when
// its communicator ends before that, so only a job killed before its ranks joined leaves one.) Throws ae::Error
// after the timeout naming the rank, the file and, when one was seen, the stale file's time.
NcclIdBytes read_nccl_id(const std::string& file, int rank, std::chrono::milliseconds timeout,
                         std::filesystem::file_time_type not_before);

// When this process started, on the file system's clock, less `slack`: the ranks of one job start
// within `slack` of one another (and the clocks of the machines sharing the id file agree that
// closely). From /proc/self/stat and /proc/uptime; now() - slack where they cannot be read.
std::filesystem::file_time_type process_start_time(std::chrono::seconds slack = std::chrono::seconds(30));

// The device of a collective on a buffer on `buffer`: a CUDA buffer's own device, which must be
// `bound` once the communicator is bound to one (else ae::Error naming both: one device per
// rank); a host buffer is staged through `bound`, or, before any collective has bound the
// communicator, through cuda:(local_rank % devices) (ae::Error when devices == 0).
Device nccl_collective_device(Device buffer, const std::optional<Device>& bound, int rank,
                              int local_rank, int devices);

// Returns once done() says the queued collectives are complete, polling failure() (NCCL's
// asynchronous error: empty while there is none) in between, every 100 µs at first and up to every
// 10 ms. Throws ae::Error "<what>: rank R of N: <failure>" when failure() reports one, and
// "<what>: rank R of N waited T s for the other ranks (AE_NCCL_TIMEOUT=T; ...)" after `timeout`.
// The caller aborts the NCCL communicator before it throws onwards (its collectives never end).
void wait_for_ranks(const std::function<bool()>& done, const std::function<std::string()>& failure,
                    std::chrono::milliseconds timeout, int rank, int size, const std::string& what);

}  // namespace ae
