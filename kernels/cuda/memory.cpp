// Devices, streams and memory of the CUDA backend.
//
// Each device gets, on first use, one non-blocking stream that all of ae's work on it is ordered
// on, and its default memory pool with the release threshold raised to "never": freed blocks
// stay in the pool, so after the first training step cudaMallocAsync / cudaFreeAsync are
// stream-ordered pool operations and no real cudaMalloc / cudaFree (which synchronize the
// device) happen in the loop. The state is never torn down: streams and pools live as long as
// the process, which also keeps tensors freed during static destruction safe.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_backend.h"

namespace ae::cu {

namespace {

constexpr int kMaxDevices = 64;

struct DeviceState {
  std::once_flag once;
  std::atomic<cudaStream_t> stream{nullptr};  // set last, once the rest is ready
  bool has_pool = false;                      // stream-ordered allocator supported
  cudaMemPool_t pool = nullptr;
  DeviceInfo info;
};

DeviceState& state(int device) {
  static DeviceState states[kMaxDevices];
  return states[device];
}

int query_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    // No driver, a driver older than the runtime, no GPU, or a failed initialisation: all mean
    // "no usable device". Clear the error so that it does not surface at a later check.
    (void)cudaGetLastError();
    return 0;
  }
  return count < kMaxDevices ? count : kMaxDevices;
}

int known_device_count() {
  static const int count = query_device_count();
  return count;
}

void check_device(int device, const char* what) {
  AE_CHECK(device >= 0 && device < known_device_count(), "cuda ", what, ": device cuda:", device,
           " does not exist (", known_device_count(), " usable CUDA device(s))");
}

void set_current(int device) {
  int current = -1;
  AE_CUDA_CHECK(cudaGetDevice(&current), "cuda set device");
  if (current != device) AE_CUDA_CHECK(cudaSetDevice(device), "cuda set device cuda:", device);
}

// Creates the device's stream and configures its pool, leaving the current device unchanged.
void init_device(int device) {
  DeviceState& st = state(device);
  int previous = 0;
  AE_CUDA_CHECK(cudaGetDevice(&previous), "cuda init cuda:", device);
  AE_CUDA_CHECK(cudaSetDevice(device), "cuda init cuda:", device);

  AE_CUDA_CHECK(cudaDeviceGetAttribute(&st.info.sm_count, cudaDevAttrMultiProcessorCount, device),
                "cuda init cuda:", device);
  st.info.index = device;

  int pools = 0;
  AE_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device),
                "cuda init cuda:", device);
  st.has_pool = pools != 0;
  if (st.has_pool) {
    AE_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&st.pool, device), "cuda init cuda:", device);
    uint64_t keep_everything = UINT64_MAX;
    AE_CUDA_CHECK(
        cudaMemPoolSetAttribute(st.pool, cudaMemPoolAttrReleaseThreshold, &keep_everything),
        "cuda init cuda:", device);
  }

  cudaStream_t s = nullptr;
  AE_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cuda init cuda:", device);
  st.stream.store(s, std::memory_order_release);
  AE_CUDA_CHECK(cudaSetDevice(previous), "cuda init cuda:", device);
}

DeviceState& ready_state(int device) {
  DeviceState& st = state(device);
  std::call_once(st.once, init_device, device);
  return st;
}

// The device whose stream is `s`, or the current device for a stream ae did not create.
int device_of(Stream s) {
  if (s != nullptr) {
    for (int d = 0; d < known_device_count(); ++d)
      if (state(d).stream.load(std::memory_order_acquire) == static_cast<cudaStream_t>(s))
        return d;
  }
  int current = 0;
  AE_CUDA_CHECK(cudaGetDevice(&current), "cuda stream lookup");
  return current;
}

// cudaErrorCudartUnloading and friends: the process is exiting and the runtime is already gone,
// so the memory is being returned anyway.
bool is_shutdown_error(cudaError_t err) {
  return err == cudaErrorCudartUnloading || err == cudaErrorContextIsDestroyed;
}

}  // namespace

int device_count() { return known_device_count(); }

Stream stream(int device) {
  check_device(device, "stream");
  return ready_state(device).stream.load(std::memory_order_acquire);
}

const DeviceInfo& activate(Stream s) {
  int device = device_of(s);
  const DeviceState& st = ready_state(device);
  set_current(device);
  return st.info;
}

void* alloc(size_t bytes, int device, Stream s) {
  if (bytes == 0) return nullptr;
  check_device(device, "alloc");
  DeviceState& st = ready_state(device);
  set_current(device);
  auto cs = static_cast<cudaStream_t>(s);
  void* ptr = nullptr;
  cudaError_t err = st.has_pool ? cudaMallocAsync(&ptr, bytes, cs) : cudaMalloc(&ptr, bytes);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (err == cudaErrorMemoryAllocation && st.has_pool &&
      cudaStreamIsCapturing(cs, &capture) == cudaSuccess &&
      capture == cudaStreamCaptureStatusNone) {
    // The pool may hold freed blocks that do not fit this request: once the stream's pending
    // frees are done, give them back to the device and try once more. (Not while the stream is
    // captured into a graph: waiting for it, or trimming the pool, would break the capture.)
    (void)cudaGetLastError();
    AE_CUDA_CHECK(cudaStreamSynchronize(cs), "cuda alloc (", bytes, " bytes on cuda:", device, ")");
    AE_CUDA_CHECK(cudaMemPoolTrimTo(st.pool, 0), "cuda alloc (", bytes, " bytes on cuda:", device,
                  ")");
    err = cudaMallocAsync(&ptr, bytes, cs);
  }
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    fail(cat("cuda alloc: out of memory allocating ", bytes, " bytes on cuda:", device, " (",
             free_bytes, " of ", total_bytes, " bytes free)"));
  }
  AE_CUDA_CHECK(err, "cuda alloc (", bytes, " bytes on cuda:", device, ")");
  return ptr;
}

void free(void* ptr, int device, Stream s) {
  if (ptr == nullptr) return;
  check_device(device, "free");
  DeviceState& st = ready_state(device);
  int current = -1;
  cudaError_t err = cudaGetDevice(&current);
  if (err == cudaSuccess && current != device) err = cudaSetDevice(device);
  if (err == cudaSuccess)
    err = st.has_pool ? cudaFreeAsync(ptr, static_cast<cudaStream_t>(s)) : cudaFree(ptr);
  if (is_shutdown_error(err)) return;
  AE_CUDA_CHECK(err, "cuda free (cuda:", device, ")");
}

void* host_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* ptr = nullptr;
  AE_CUDA_CHECK(cudaMallocHost(&ptr, bytes), "cuda host_alloc (", bytes, " page-locked bytes)");
  return ptr;
}

void host_free(void* ptr) {
  if (ptr == nullptr) return;
  const cudaError_t err = cudaFreeHost(ptr);
  if (is_shutdown_error(err)) return;
  AE_CUDA_CHECK(err, "cuda host_free");
}

void* event_create(Stream s) {
  activate(s);  // an event belongs to the device current when it is made
  cudaEvent_t event = nullptr;
  // Timing off: the cheapest event, only ordering is needed.
  AE_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cuda event_create");
  return event;
}

void event_destroy(void* event) {
  if (event == nullptr) return;
  const cudaError_t err = cudaEventDestroy(static_cast<cudaEvent_t>(event));
  if (is_shutdown_error(err)) return;
  AE_CUDA_CHECK(err, "cuda event_destroy");
}

void event_record(void* event, Stream s) {
  activate(s);
  AE_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(s)),
                "cuda event_record");
}

void event_synchronize(void* event) {
  AE_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cuda event_synchronize");
}

void copy(void* dst, const void* src, size_t bytes, CopyKind kind, Stream s) {
  if (bytes == 0) return;
  activate(s);
  cudaMemcpyKind cuda_kind = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                             : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                                : cudaMemcpyDeviceToDevice;
  // From or to pageable host memory this returns only once the host buffer may be reused
  // (device-to-host: once the copy is complete), which Tensor relies on.
  AE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cuda_kind, static_cast<cudaStream_t>(s)),
                "cuda copy (", bytes, " bytes, ",
                kind == CopyKind::host_to_device   ? "host to device"
                : kind == CopyKind::device_to_host ? "device to host"
                                                   : "device to device",
                ")");
}

void synchronize(Stream s) {
  AE_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "cuda synchronize");
}

Scratch::Scratch(size_t bytes, Stream s) : stream_(s) {
  ptr_ = alloc(bytes, activate(s).index, s);
}

Scratch::~Scratch() {
  if (ptr_ == nullptr) return;
  try {
    free(ptr_, activate(stream_).index, stream_);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ae: releasing CUDA scratch memory failed: %s\n", e.what());
  }
}

}  // namespace ae::cu
