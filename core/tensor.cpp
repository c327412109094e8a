#include "core/tensor.h"

#include <cstdio>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"

namespace ae {

Storage::Storage(size_t bytes_, Device device_) : bytes(bytes_), device(device_) {
  const Backend& be = backend(device);
  data = be.alloc(bytes, device.index, be.stream(device.index));
}

Storage::Storage(void* external, size_t bytes_, Device device_, std::shared_ptr<void> owner_)
    : data(external), bytes(bytes_), device(device_), owner(std::move(owner_)) {}

Storage::~Storage() {
  if (owner) return;  // borrowed: released with `owner`
  try {
    const Backend& be = backend(device);
    be.free(data, device.index, be.stream(device.index));
  } catch (const std::exception& e) {  // a destructor reports, it does not throw
    std::fprintf(stderr, "ae: freeing %zu bytes on %s failed: %s\n", bytes, device.str().c_str(),
                 e.what());
  }
}

namespace {

const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  AE_CHECK(impl, "tensor: use of an undefined tensor");
  return *impl;
}

Tensor make(const Shape& shape, DType dt, Device d) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dt), d);
  impl->shape = shape;
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

}  // namespace

// --- factories -----------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dt, Device d) { return make(shape, dt, d); }

Tensor Tensor::full(const Shape& shape, double value, DType dt, Device d) {
  Tensor t = make(shape, dt, d);
  backend(d).fill(dt, t.data(), t.numel(), value, stream(d));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dt, Device d) { return full(shape, 0, dt, d); }
Tensor Tensor::ones(const Shape& shape, DType dt, Device d) { return full(shape, 1, dt, d); }

Tensor Tensor::arange(int64_t n, double start, double step, DType dt, Device d) {
  Tensor t = make(Shape{n}, dt, d);
  backend(d).arange(dt, t.data(), n, start, step, stream(d));
  return t;
}

Tensor Tensor::from_external(void* data, const Shape& shape, DType dt, Device d,
                             std::shared_ptr<void> owner) {
  AE_CHECK(data != nullptr || shape.numel() == 0, "from_external: a null pointer for shape ", shape);
  // An empty owner would make the storage look like ae's own memory; it must hold something.
  if (!owner) owner = std::make_shared<int>(0);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, shape.numel() * dtype_size(dt), d, std::move(owner));
  impl->shape = shape;
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

namespace {
template <class T>
Tensor from_host_impl(const std::vector<T>& values, const Shape& shape, DType dt, Device d) {
  AE_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_host: ", values.size(),
           " values for shape ", shape, " (", shape.numel(), " elements)");
  Tensor t = make(shape, dt, d);
  backend(d).copy(t.data(), values.data(), t.nbytes(), CopyKind::host_to_device, stream(d));
  synchronize(d);  // the host vector may not outlive an asynchronous copy
  return t;
}
}  // namespace

Tensor Tensor::from_host(const std::vector<float>& values, const Shape& shape, Device d) {
  return from_host_impl(values, shape, DType::f32, d);
}
Tensor Tensor::from_host(const std::vector<double>& values, const Shape& shape, Device d) {
  return from_host_impl(values, shape, DType::f64, d);
}

Tensor Tensor::rand(const Shape& shape, uint64_t seed, uint64_t offset, DType dt, Device d) {
  Tensor t = make(shape, dt, d);
  backend(d).rand_uniform(dt, t.data(), t.numel(), seed, offset, stream(d));
  return t;
}

Tensor Tensor::randn(const Shape& shape, uint64_t seed, uint64_t offset, DType dt, Device d) {
  Tensor t = make(shape, dt, d);
  backend(d).rand_normal(dt, t.data(), t.numel(), seed, offset, stream(d));
  return t;
}

// --- properties ----------------------------------------------------------------------------

const Shape& Tensor::shape() const { return checked(impl_).shape; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }

std::string Tensor::str() const {
  if (!impl_) return "undefined";
  return cat(dtype_name(dtype()), shape().str(), " on ", device().str());
}

void* Tensor::data() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<char*>(t.storage->data) + t.offset;
}

template <>
float* Tensor::data_as<float>() const {
  AE_CHECK(dtype() == DType::f32, "tensor ", str(), ": read as float32");
  return static_cast<float*>(data());
}
template <>
double* Tensor::data_as<double>() const {
  AE_CHECK(dtype() == DType::f64, "tensor ", str(), ": read as float64");
  return static_cast<double*>(data());
}

// --- movement ------------------------------------------------------------------------------

Tensor Tensor::to(Device d) const {
  Device from = device();
  if (from == d) return *this;
  Tensor t = make(shape(), dtype(), d);
  if (!from.is_cuda() && d.is_cuda()) {
    backend(d).copy(t.data(), data(), nbytes(), CopyKind::host_to_device, stream(d));
    synchronize(d);
  } else if (from.is_cuda() && !d.is_cuda()) {
    backend(from).copy(t.data(), data(), nbytes(), CopyKind::device_to_host, stream(from));
    synchronize(from);
  } else {  // between two CUDA devices: through the host keeps this simple and rare path obvious
    return to(Device::cpu()).to(d);
  }
  return t;
}

Tensor Tensor::to(DType dt) const {
  if (dtype() == dt) return *this;
  Tensor t = make(shape(), dt, device());
  backend(device()).cast(dtype(), data(), dt, t.data(), numel(), stream(device()));
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = make(shape(), dtype(), device());
  const Backend& be = backend(device());
  be.copy(t.data(), data(), nbytes(), device().is_cuda() ? CopyKind::device_to_device
                                                         : CopyKind::host_to_device,
          stream(device()));
  return t;
}

void Tensor::copy_(const Tensor& src) {
  AE_CHECK(src.shape() == shape() && src.dtype() == dtype(), "copy_: ", src.str(), " into ",
           str());
  Tensor s = src.to(device());
  backend(device()).copy(data(), s.data(), nbytes(),
                         device().is_cuda() ? CopyKind::device_to_device : CopyKind::host_to_device,
                         stream(device()));
}

std::vector<double> Tensor::to_vector() const {
  Tensor h = to(Device::cpu()).to(DType::f64);
  const double* p = h.data_as<double>();
  return std::vector<double>(p, p + h.numel());
}

std::vector<float> Tensor::to_floats() const {
  Tensor h = to(Device::cpu()).to(DType::f32);
  const float* p = h.data_as<float>();
  return std::vector<float>(p, p + h.numel());
}

double Tensor::item() const {
  AE_CHECK(numel() == 1, "item: tensor ", str(), " has ", numel(), " elements, not 1");
  return to_vector()[0];
}

// --- autograd ------------------------------------------------------------------------------

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  AE_CHECK(is_leaf(), "requires_grad_: ", str(), " is the output of an op; detach() it first");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked(impl_).grad); }
void Tensor::zero_grad() { checked(impl_), impl_->grad.reset(); }
bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked(impl_).storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad) const { run_backward(*this, grad); }

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.str(); }

}  // namespace ae
