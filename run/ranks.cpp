#include "run/ranks.h"

#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ae::run {

json rank_fingerprint(const RunConfig& config, int64_t rows, int64_t features,
                      const std::string& normalization, const std::string& model_spec_json) {
  json settings = to_json(config);
  settings.erase("device");
  return {{"rows", rows},
          {"features", features},
          {"settings", std::move(settings)},
          {"normalization", normalization},
          {"model", json::parse(model_spec_json)}};
}

std::string fingerprint_difference(const json& here, const json& rank0) {
  auto say = [](const Difference& d) {
    return cat(d.what, " differs: ", d.a, " here, ", d.b, " on rank 0");
  };
  for (const char* fact : {"rows", "features"}) {
    const Difference d = json_difference(here.value(fact, json()), rank0.value(fact, json()),
                                         cat("the data's number of ", fact));
    if (d.found) return say(d);
  }
  if (const Difference d = setting_difference(here.value("settings", json::object()),
                                              rank0.value("settings", json::object()));
      d.found)
    return say(d);
  if (const Difference d = json_difference(here.value("normalization", json()),
                                           rank0.value("normalization", json()),
                                           "the normalisation (--normalize auto chose)");
      d.found)
    return say(d);
  if (const Difference d = json_difference(here.value("model", json()), rank0.value("model", json()));
      d.found)
    return say(Difference{true, cat("the model's ", d.what), d.a, d.b});
  return "";
}

namespace {

// Rank 0's values on every rank, through a buffer of `device`.
std::vector<double> broadcast_values(Communicator& comm, const std::vector<double>& values,
                                     Device device) {
  const Tensor t = Tensor::from_host(values, Shape{static_cast<int64_t>(values.size())}, device);
  comm.broadcast(t.data(), t.numel() * static_cast<int64_t>(sizeof(double)), 0, device);
  return t.to_vector();
}

}  // namespace

void check_ranks_agree(Communicator& comm, const json& fingerprint, Device device) {
  if (comm.size() == 1) return;
  // Rank 0's text, its length first, a byte per element.
  const std::string mine = fingerprint.dump();
  const double length = broadcast_values(comm, {static_cast<double>(mine.size())}, device)[0];
  std::vector<double> bytes(static_cast<size_t>(length));
  if (comm.rank() == 0)
    for (size_t i = 0; i < mine.size(); ++i) bytes[i] = static_cast<unsigned char>(mine[i]);
  std::string text;
  for (double b : broadcast_values(comm, bytes, device)) text += static_cast<char>(static_cast<int>(b));
  const std::string difference = fingerprint_difference(fingerprint, json::parse(text));
  Tensor differing = Tensor::full(Shape{1}, difference.empty() ? 0 : 1, DType::f64, device);
  comm.all_reduce_sum(differing.data(), 1, DType::f64, device);
  if (differing.to_vector()[0] == 0) return;
  throw JobError(difference.empty()
                     ? std::string()
                     : cat(difference, " (every rank of a data-parallel run trains on the same "
                                       "data with the same settings; only --device may differ)"));
}

}  // namespace ae::run
