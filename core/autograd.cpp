#include "core/autograd.h"

#include <cmath>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/ops.h"

namespace ae {

namespace {
thread_local bool t_grad_enabled = true;
bool g_anomaly_detection = false;

// Throws naming the op and the first non-finite element when anomaly detection is on.
void check_finite(const Tensor& t, const char* op, const char* what) {
  if (!g_anomaly_detection || !t.defined()) return;
  std::vector<double> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    AE_CHECK(std::isfinite(v[i]), "anomaly: ", op, " produced ",
             std::isnan(v[i]) ? "nan" : (v[i] > 0 ? "inf" : "-inf"), " in its ", what,
             " (element ", i, " of ", t.shape(), ")");
}
void check_compatible_grad(const Tensor& into, const Tensor& g) {
  AE_CHECK(into.shape() == g.shape() && into.dtype() == g.dtype() && into.device() == g.device(),
           "backward: gradient ", g.str(), " for the gradient buffer ", into.str());
}
}  // namespace

void set_anomaly_detection(bool on) { g_anomaly_detection = on; }
bool anomaly_detection() { return g_anomaly_detection; }

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
  check_finite(out, op, "output");
  if (!grad_enabled()) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return out;
  out.impl()->requires_grad = true;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  return out;
}

Node::~Node() {
  // Each node whose inputs only it holds hands their nodes to `pending` before it dies, so the
  // destructors that run stay one level deep. The backward function goes first: what it captured
  // is normally among the inputs, which then become the sole owners.
  std::vector<std::shared_ptr<Node>> pending;
  auto release = [&pending](Node& node) {
    node.backward = nullptr;
    for (Tensor& t : node.inputs) {
      const std::shared_ptr<TensorImpl>& impl = t.impl_ptr();
      if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1)
        pending.push_back(std::move(impl->grad_fn));
    }
    node.inputs.clear();
  };
  release(*this);
  while (!pending.empty()) {
    std::shared_ptr<Node> next = std::move(pending.back());
    pending.pop_back();
    release(*next);
  }
}

namespace {

// The number of node inputs that name each tensor, over the graph of the running backward()
// (grad_accumulator reads it).
using UseCounts = std::unordered_map<const TensorImpl*, int>;
thread_local const UseCounts* t_uses = nullptr;

// Tensors reachable from root through grad_fn edges, each after every tensor computed from it;
// `uses` counts the edges into each.
std::vector<std::shared_ptr<TensorImpl>> topological_order(const Tensor& root, UseCounts& uses) {
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen{root.impl()};
  // Iterative post-order DFS: deep graphs (long chains of ops) must not overflow the stack.
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root.impl_ptr(), 0}};
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    const Node* node = impl->grad_fn.get();
    if (node && next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.requires_grad() && ++uses[in.impl()] == 1 &&
          seen.insert(in.impl()).second)
        stack.push_back({in.impl_ptr(), 0});
      continue;
    }
    order.push_back(impl);
    stack.pop_back();
  }
  return order;  // post-order: inputs before outputs
}

void accumulate(std::unordered_map<TensorImpl*, Tensor>& grads, TensorImpl* key, const Tensor& g) {
  auto [it, fresh] = grads.try_emplace(key, g);
  if (!fresh) it->second = add(it->second, g);
}

std::mutex g_grad_storage_mutex;
std::unordered_set<const Storage*> g_grad_storages;  // see register_grad_storage

bool in_registered_storage(const TensorImpl& t) {
  std::lock_guard<std::mutex> lock(g_grad_storage_mutex);
  return !g_grad_storages.empty() && g_grad_storages.count(t.storage.get()) > 0;
}

// A leaf's gradient: added in place into a registered buffer, else summed into a new .grad.
void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad) {
    leaf.grad = g.impl_ptr();
    return;
  }
  Tensor into(leaf.grad);
  if (!in_registered_storage(*leaf.grad)) {
    leaf.grad = add(into, g).impl_ptr();
    return;
  }
  check_compatible_grad(into, g);
  backend(into.device())
      .binary_forward(BinaryOp::add, into.dtype(), into.data(), g.data(), into.data(), 1,
                      into.numel(), Broadcast::none, stream(into.device()));
}

}  // namespace

Tensor grad_accumulator(const Node& node, size_t i) {
  if (!t_uses || g_anomaly_detection || i >= node.inputs.size()) return {};
  const Tensor& t = node.inputs[i];
  if (!t.defined() || !t.requires_grad() || t.impl()->grad_fn || !t.impl()->grad) return {};
  const auto found = t_uses->find(t.impl());
  if (found == t_uses->end() || found->second != 1) return {};
  if (!in_registered_storage(*t.impl()->grad)) return {};
  Tensor into(t.impl()->grad);
  if (into.shape() != t.shape() || into.dtype() != t.dtype() || into.device() != t.device())
    return {};
  return into;
}

void register_grad_storage(const Storage* storage) {
  std::lock_guard<std::mutex> lock(g_grad_storage_mutex);
  g_grad_storages.insert(storage);
}

void unregister_grad_storage(const Storage* storage) {
  std::lock_guard<std::mutex> lock(g_grad_storage_mutex);
  g_grad_storages.erase(storage);
}

void run_backward(const Tensor& root, const Tensor& grad) {
  AE_CHECK(root.defined(), "backward: undefined tensor");
  AE_CHECK(root.requires_grad(), "backward: ", root.str(), " does not require grad");
  Tensor seed = grad;
  if (!seed.defined()) {
    AE_CHECK(root.numel() == 1, "backward: ", root.str(),
             " is not a scalar; pass the gradient of the output");
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  AE_CHECK(seed.shape() == root.shape() && seed.dtype() == root.dtype() &&
               seed.device() == root.device(),
           "backward: gradient ", seed.str(), " for output ", root.str());

  NoGradGuard no_grad;  // backward builds no graph (double backward is not supported)
  UseCounts uses;
  std::vector<std::shared_ptr<TensorImpl>> order = topological_order(root, uses);
  struct UsesScope {  // grad_accumulator sees this graph's counts while backward() runs
    const UseCounts* previous;
    ~UsesScope() { t_uses = previous; }
  } scope{t_uses};
  t_uses = &uses;
  std::unordered_map<TensorImpl*, Tensor> grads{{root.impl(), seed}};
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const std::shared_ptr<TensorImpl>& impl = *it;
    auto found = grads.find(impl.get());
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    if (!impl->grad_fn) {  // a leaf: accumulate into .grad
      accumulate_leaf(*impl, g);
      continue;
    }
    const Node& node = *impl->grad_fn;
    std::vector<Tensor> in_grads = node.backward(g, Tensor(impl), node);
    AE_CHECK(in_grads.size() == node.inputs.size(), "backward of ", node.op, ": ",
             in_grads.size(), " gradients for ", node.inputs.size(), " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      if (!node.needs_grad(i) || !in_grads[i].defined()) continue;
      AE_CHECK(in_grads[i].shape() == node.inputs[i].shape(), "backward of ", node.op,
               ": gradient ", in_grads[i].shape(), " for input ", i, " of shape ",
               node.inputs[i].shape());
      check_finite(in_grads[i], node.op, "gradient");
      accumulate(grads, node.inputs[i].impl(), in_grads[i]);
    }
  }
}

}  // namespace ae
