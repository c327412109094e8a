// Tensor: a handle to contiguous, row-major storage on one device, with an optional place in the
// autograd graph. Copies of a handle share storage; clone() copies the data.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/shape.h"

namespace ae {

struct Node;

// Device memory owned by one or more tensors; freed on its own device's stream. External
// memory (another library's array) is borrowed instead: `owner` keeps it alive and is released
// with the storage, and ae never frees it.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  std::shared_ptr<void> owner;  // set for external memory

  Storage(size_t bytes, Device device);
  Storage(void* external, size_t bytes, Device device, std::shared_ptr<void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes from storage->data to element 0 (views such as slice)
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;   // accumulated by backward() on leaves
  std::shared_ptr<Node> grad_fn;      // the op that made this tensor, when recorded
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- factories (device defaults to default_device()) ---------------------------------------
  static Tensor empty(const Shape& shape, DType dt = DType::f32, Device d = default_device());
  static Tensor zeros(const Shape& shape, DType dt = DType::f32, Device d = default_device());
  static Tensor ones(const Shape& shape, DType dt = DType::f32, Device d = default_device());
  static Tensor full(const Shape& shape, double value, DType dt = DType::f32,
                     Device d = default_device());
  static Tensor arange(int64_t n, double start = 0, double step = 1, DType dt = DType::f32,
                       Device d = default_device());
  static Tensor from_host(const std::vector<float>& values, const Shape& shape,
                          Device d = default_device());
  static Tensor from_host(const std::vector<double>& values, const Shape& shape,
                          Device d = default_device());
  // A tensor over memory that another library owns (a NumPy or DLPack array), without a copy:
  // `data` holds shape.numel() contiguous row-major elements of dt on d and stays valid while
  // `owner` lives; the tensor keeps `owner` alive. A null `data` with elements is an ae::Error.
  static Tensor from_external(void* data, const Shape& shape, DType dt, Device d,
                              std::shared_ptr<void> owner);
  // Philox4x32-10 draws: element i is the i-th cuRAND uniform (0, 1] / standard normal after
  // curand_init(seed, 0, offset). The same on every device.
  static Tensor rand(const Shape& shape, uint64_t seed, uint64_t offset, DType dt = DType::f32,
                     Device d = default_device());
  static Tensor randn(const Shape& shape, uint64_t seed, uint64_t offset, DType dt = DType::f32,
                      Device d = default_device());

  // --- properties ---------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return shape().ndim(); }
  int64_t size(int dim) const { return shape()[dim]; }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return numel() * dtype_size(dtype()); }
  std::string str() const;  // "float32(256, 784) on cpu"

  void* data() const;  // raw pointer on the tensor's device
  template <class T>
  T* data_as() const;  // checks that T matches dtype()

  // --- movement -----------------------------------------------------------------------------
  Tensor to(Device d) const;       // a copy on d (this tensor itself when already there)
  Tensor to(DType dt) const;       // a converted copy (this tensor itself when already dt)
  Tensor clone() const;            // a copy of the data on the same device, not in the graph
  std::vector<double> to_vector() const;  // the elements, as float64, on the host
  std::vector<float> to_floats() const;
  double item() const;                    // the single element of a 1-element tensor
  void copy_(const Tensor& src);          // overwrite the data in place (same shape and dtype)

  // --- autograd -----------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves
  Tensor grad() const;                     // undefined until backward() reaches this leaf
  void zero_grad();                        // drops the accumulated gradient
  Tensor detach() const;                   // same storage, out of the graph
  bool is_leaf() const;
  // Reverse mode from this tensor; `grad` defaults to ones for a 1-element tensor.
  void backward(const Tensor& grad = {}) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

template <> float* Tensor::data_as<float>() const;
template <> double* Tensor::data_as<double>() const;

std::ostream& operator<<(std::ostream& out, const Tensor& t);

}  // namespace ae
