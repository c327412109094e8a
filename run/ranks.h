// What the ranks of one data-parallel run must have in common, and the check, at start-up, that
// they do. Every rank loads the data and builds the model itself (docs/scale.md), so ranks given
// other data or other settings would sum gradients of other shapes (a crash), stop after other
// numbers of epochs (a rank waiting forever) or train from other parameters without a word.
#pragma once
#include <cstdint>
#include <string>

#include "core/comm.h"
#include "run/config.h"

namespace ae::run {

// A run's fingerprint, as JSON: the data's rows (every rank holds all of them, or streams the same
// file, and trains on its shard of each global batch) and features; every setting of `config`
// (to_json) but the device, which each rank may choose for itself (one GPU per rank); what
// --normalize auto chose; and the model the settings and the data describe (model_spec_json).
json rank_fingerprint(const RunConfig& config, int64_t rows, int64_t features,
                      const std::string& normalization, const std::string& model_spec_json);

// The first thing in which fingerprint `here` differs from rank 0's, in the order above:
// "--epochs (train.epochs) differs: 2 here, 4 on rank 0"; "" when they agree.
std::string fingerprint_difference(const json& here, const json& rank0);

// With more than one rank: rank 0's fingerprint goes to every rank (its length, then its text:
// broadcast), each compares its own with it, and the ranks sum how many differ. When any does,
// every rank throws core/comm.h's JobError, together: a rank that differs with its difference
// and what every rank must share, the others (rank 0 among them) with an empty message. One rank:
// nothing. The collectives run on buffers of `device`, the model's: the NCCL communicator binds
// to the device of its first collective.
void check_ranks_agree(Communicator& comm, const json& fingerprint, Device device);

}  // namespace ae::run
