// The CUDA table. Its entries live in the sibling files by family: memory.cpp, fill_copy.cu,
// elementwise.cu, gemm.cpp, reduce.cu, fused.cu, random.cu, step.cu, graph.cpp.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/random.h"

namespace ae {

const Backend* cuda_backend() {
  static const Backend table = {
      .name = "cuda",
      .device_count = cu::device_count,
      .stream = cu::stream,
      .alloc = cu::alloc,
      .free = cu::free,
      .copy = cu::copy,
      .synchronize = cu::synchronize,
      .host_alloc = cu::host_alloc,
      .host_free = cu::host_free,
      .event_create = cu::event_create,
      .event_destroy = cu::event_destroy,
      .event_record = cu::event_record,
      .event_synchronize = cu::event_synchronize,
      .fill = cu::fill,
      .arange = cu::arange,
      .cast = cu::cast,
      .unary_forward = cu::unary_forward,
      .unary_backward = cu::unary_backward,
      .binary_forward = cu::binary_forward,
      .loss_forward = cu::loss_forward,
      .loss_backward = cu::loss_backward,
      .gemm = cu::gemm,
      .transpose = cu::transpose,
      .reduce_sum = cu::reduce_sum,
      .expand = cu::expand,
      .copy_block = cu::copy_block,
      .adam_update = cu::adam_update,
      .sgd_update = cu::sgd_update,
      .rand_uniform = cu::rand_uniform,
      .rand_normal = cu::rand_normal,
      .bias_act_forward = cu::bias_act_forward,
      .bias_act_backward = cu::bias_act_backward,
      .kl_sparsity_forward = cu::kl_sparsity_forward,
      .kl_sparsity_backward = cu::kl_sparsity_backward,
      .contractive_forward = cu::contractive_forward,
      .contractive_backward = cu::contractive_backward,
      .reparameterize_forward = cu::reparameterize_forward,
      .reparameterize_backward = cu::reparameterize_backward,
      .adam_update_indirect = cu::adam_update_indirect,
      .sgd_update_indirect = cu::sgd_update_indirect,
      .counter_add = cu::counter_add,
      .accumulate_scalars = cu::accumulate_scalars,
      .set_rand_offset_counter = cu::set_rand_offset_counter,
      .set_tf32 = cu::set_tf32,
      .graph_begin = cu::graph_begin,
      .graph_end = cu::graph_end,
      .graph_launch = cu::graph_launch,
      .graph_destroy = cu::graph_destroy,
  };
  return &table;
}

}  // namespace ae
