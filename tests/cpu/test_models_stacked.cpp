// The stacked autoencoder on MNIST digits: greedy layer-wise pretraining builds a working deep
// model, and end-to-end fine-tuning then lowers its reconstruction loss further.
#include "core/autograd.h"
#include "train/pretrain.h"
#include "tests/cpu/test_models_util.h"

namespace ae::models {
namespace {

using test::measured;
using test::mnist_rows;
using test::quick_trainer;

TEST(ModelsStacked, PretrainingConfigs) {
  AutoencoderConfig deep;
  deep.widths = {784, 256, 64, 16};
  deep.hidden = Activation::sigmoid;
  deep.code = Activation::identity;
  deep.tied = true;
  AutoencoderConfig first = pretraining_config(deep, 0), last = pretraining_config(deep, 2);
  EXPECT_EQ(first.widths, (std::vector<int64_t>{784, 256}));
  EXPECT_EQ(first.code, Activation::sigmoid);
  EXPECT_EQ(first.data, deep.data);
  EXPECT_TRUE(first.tied);
  EXPECT_EQ(last.widths, (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(last.code, Activation::identity);
  EXPECT_EQ(last.data, DataKind::binary);  // it reconstructs sigmoid codes in [0, 1]
  deep.hidden = Activation::relu;
  EXPECT_EQ(pretraining_config(deep, 1).data, DataKind::real);
}

TEST(ModelsStacked, PretrainingThenFineTuningLowersTheReconstruction) {
  AE_SKIP_WITHOUT_MNIST();
  AutoencoderConfig c;
  c.widths = {784, 128, 32};
  Autoencoder deep(c, 1, Device::cpu());
  Tensor train = mnist_rows(0, 2000), held_out = mnist_rows(8000, 1000);
  const double untrained = evaluate(deep, held_out).reconstruction;

  std::vector<TrainResult> layers = pretrain_greedy(deep, train, held_out, quick_trainer(4), 10);
  ASSERT_EQ(layers.size(), 2u);
  // The deep model now holds the shallow models' layers: its first encoder layer computes what
  // the first shallow model's encoder computes.
  Autoencoder first(pretraining_config(c, 0), 10, Device::cpu());
  Trainer(quick_trainer(4)).fit(first, train, held_out);
  {
    NoGradGuard no_grad;
    EXPECT_EQ(deep.encode_layers(held_out)[0].to_vector(), first.encode(held_out).to_vector());
  }
  const double pretrained = evaluate(deep, held_out).reconstruction;

  Trainer(quick_trainer(4, 1e-3)).fit(deep, train, held_out);
  const double fine_tuned = evaluate(deep, held_out).reconstruction;
  measured(cat("held-out reconstruction: untrained ", untrained, ", pretrained stack ", pretrained,
               ", fine-tuned ", fine_tuned));
  EXPECT_LT(pretrained, untrained);
  EXPECT_LT(fine_tuned, 0.95 * pretrained);
}

}  // namespace
}  // namespace ae::models
