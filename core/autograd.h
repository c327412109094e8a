// Reverse-mode autograd over a tape. Each recorded op leaves a Node on its output: the inputs it
// read and a backward function that maps the output's gradient to the inputs' gradients.
// backward() visits tensors in reverse topological order and sums gradients where a tensor is
// used more than once (tied weights: W feeds the encoder and, transposed, the decoder).
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace ae {

struct Node;
// Returns one gradient per input of the node (undefined where node.needs_grad(i) is false).
// `y` is the op's output (passed in, not captured, so a node never owns its output).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& dy, const Tensor& y,
                                                     const Node& node)>;

struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  BackwardFn backward;
  bool needs_grad(size_t i) const { return inputs[i].defined() && inputs[i].requires_grad(); }

  Node() = default;
  // Releases the graph behind the node from a loop, not recursively: a chain of thousands of ops
  // would otherwise need stack frames for every op it passes on the way down.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
};

// True unless a NoGradGuard is alive on this thread.
bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Anomaly detection (off by default; one flag test per op when off): every op's output and
// every gradient backward() computes is checked, and the first NaN or Inf throws an ae::Error
// naming the op. Checking reads values back to the host, so it is for finding faults, not speed.
void set_anomaly_detection(bool on);
bool anomaly_detection();

// Records `op` on `out` when grad mode is on and any input requires a gradient; returns out.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

void run_backward(const Tensor& root, const Tensor& grad);

// Gradient buffers that backward() adds into in place (a flat optimizer's gradient buffer). A
// leaf whose .grad lies in a registered storage keeps that .grad: each gradient backward()
// computes for the leaf is added into it, instead of .grad being rebound to a new tensor. The
// caller owns the storage, keeps it alive while registered, and promises that no other tensor's
// gradient aliases it. Unregistered storage is treated like any other.
void register_grad_storage(const Storage* storage);
void unregister_grad_storage(const Storage* storage);

// Inside an op's backward, the gradient buffer of input i of `node` when the op may add its
// gradient for that input straight into it (a GEMM with beta = 1, with no gradient tensor of its
// own and no separate addition) and return an undefined gradient for it: the input is a leaf
// whose .grad lies in a registered storage and this node is its only consumer in the running
// backward(), so the buffer ends as the usual path would leave it. Undefined otherwise, outside
// backward() and under anomaly detection (which checks every gradient before it is added).
Tensor grad_accumulator(const Node& node, size_t i);

}  // namespace ae
