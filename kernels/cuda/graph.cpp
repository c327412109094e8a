// CUDA graphs: the work ordered on one stream is captured once and replayed as a whole, so a
// training step costs one launch instead of a hundred.
//
// Capture runs in cudaStreamCaptureModeThreadLocal: on the capturing thread, any call that could
// wait for the device (cudaMalloc, a synchronisation, a pageable copy) invalidates the capture
// and ends it with an error, rather than silently running outside the graph. Device memory
// allocated while capturing comes from cudaMallocAsync and becomes the graph's own allocation
// nodes, reused on every replay; it must be freed before the capture ends (the graph could not
// be launched again otherwise).
#include <memory>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_backend.h"

namespace ae::cu {

namespace {

struct Graph {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
};

}  // namespace

bool graph_begin(Stream s) {
  activate(s);
  AE_CUDA_CHECK(cudaStreamBeginCapture(static_cast<cudaStream_t>(s),
                                       cudaStreamCaptureModeThreadLocal),
                "cuda graph_begin");
  return true;
}

void* graph_end(Stream s) {
  activate(s);
  auto g = std::make_unique<Graph>();
  AE_CUDA_CHECK(cudaStreamEndCapture(static_cast<cudaStream_t>(s), &g->graph),
                "cuda graph_end: the capture failed (a call inside it waited for the device or "
                "used memory it may not)");
  const cudaError_t err = cudaGraphInstantiate(&g->exec, g->graph, 0);
  if (err != cudaSuccess) {
    (void)cudaGraphDestroy(g->graph);
    AE_CUDA_CHECK(err, "cuda graph_end: instantiating the captured graph");
  }
  // Uploading now keeps the cost of the first replay out of the steps that follow.
  AE_CUDA_CHECK(cudaGraphUpload(g->exec, static_cast<cudaStream_t>(s)), "cuda graph_end: upload");
  return g.release();
}

void graph_launch(void* graph, Stream s) {
  AE_CHECK(graph, "cuda graph_launch: null graph");
  activate(s);
  AE_CUDA_CHECK(cudaGraphLaunch(static_cast<Graph*>(graph)->exec, static_cast<cudaStream_t>(s)),
                "cuda graph_launch");
}

void graph_destroy(void* graph) {
  std::unique_ptr<Graph> g(static_cast<Graph*>(graph));
  if (!g) return;
  // At process exit the runtime may already be gone; the graph goes with it.
  const cudaError_t e1 = cudaGraphExecDestroy(g->exec);
  const cudaError_t e2 = cudaGraphDestroy(g->graph);
  for (cudaError_t e : {e1, e2})
    if (e != cudaSuccess && e != cudaErrorCudartUnloading && e != cudaErrorContextIsDestroyed)
      AE_CUDA_CHECK(e, "cuda graph_destroy");
}

}  // namespace ae::cu
