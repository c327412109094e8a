#include "models/stacked.h"

#include "core/error.h"

namespace ae::models {

AutoencoderConfig pretraining_config(const AutoencoderConfig& deep, int layer) {
  const int L = static_cast<int>(deep.widths.size()) - 1;
  AE_CHECK(layer >= 0 && layer < L, "pretraining_config: layer ", layer, " of a ", L,
           "-layer encoder");
  AutoencoderConfig c = deep;
  c.widths = {deep.widths[layer], deep.widths[layer + 1]};
  c.code = layer + 1 == L ? deep.code : deep.hidden;
  if (layer > 0)
    c.data = deep.hidden == Activation::sigmoid ? DataKind::binary : DataKind::real;
  return c;
}

}  // namespace ae::models
