#include "run/ranks.h"

#include <vector>

#include "core/error.h"

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

void check_ranks_agree(Communicator& comm, const json& fingerprint) {
  if (comm.size() == 1) return;
  // Rank 0's text, its length first; host buffers (Device::cpu()).
  std::string text = comm.rank() == 0 ? fingerprint.dump() : std::string();
  int64_t length = static_cast<int64_t>(text.size());
  comm.broadcast(&length, sizeof length, 0, Device::cpu());
  text.resize(static_cast<size_t>(length));
  comm.broadcast(text.data(), length, 0, Device::cpu());
  const std::string difference = fingerprint_difference(fingerprint, json::parse(text));
  double differing = difference.empty() ? 0 : 1;
  comm.all_reduce_sum(&differing, 1, DType::f64, Device::cpu());
  if (differing == 0) return;
  throw JobError(difference.empty()
                     ? std::string()
                     : cat(difference, " (every rank of a data-parallel run trains on the same "
                                       "data with the same settings; only --device may differ)"));
}

}  // namespace ae::run
