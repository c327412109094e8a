// CPU twins of the sparse-code kernels (semantics: kernels/backend.h). Rows split over the pool;
// sums per latent split by latent, each latent's slots summed in ascending slot order, so results
// do not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/loops.h"

namespace ae::cpu {

namespace {

// Rows per chunk so that a chunk holds about `work` elements of work per row.
int64_t row_grain(int64_t work_per_row) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work_per_row, 1));
}

// The k largest of one row: a min-heap (under `better`) of the best k so far, whose front is the
// worst of them; blocks of 16 entries whose largest does not beat it are skipped whole, which
// is most of a long row.
template <class T>
AE_CPU_CLONES void topk_row(const T* xr, int64_t n, int64_t k, std::pair<T, int32_t>* heap,
                            T* values, int32_t* index) {
  auto better = [](const std::pair<T, int32_t>& a, const std::pair<T, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  int64_t size = 0;
  auto offer = [&](int64_t i) {
    const std::pair<T, int32_t> e{xr[i], static_cast<int32_t>(i)};
    if (size < k) {
      heap[size++] = e;
      std::push_heap(heap, heap + size, better);
    } else if (better(e, heap[0])) {
      std::pop_heap(heap, heap + size, better);
      heap[size - 1] = e;
      std::push_heap(heap, heap + size, better);
    }
  };
  int64_t i = 0;
  for (; i < n && size < k; ++i) offer(i);
  constexpr int64_t kBlock = 16;
  for (; i + kBlock <= n; i += kBlock) {
    T top = xr[i];
    for (int64_t j = 1; j < kBlock; ++j) top = std::max(top, xr[i + j]);
    // An entry equal to the worst kept one loses the tie (its latent is higher): skip at <=.
    if (!(top >= heap[0].first)) continue;
    for (int64_t j = 0; j < kBlock; ++j) offer(i + j);
  }
  for (; i < n; ++i) offer(i);
  std::sort(heap, heap + k, better);
  for (int64_t s = 0; s < k; ++s) {
    values[s] = std::max(heap[s].first, T(0));
    index[s] = heap[s].second;
  }
}

template <class T>
void topk_rows_loop(const T* x, int64_t rows, int64_t n, int64_t k, T* values, int32_t* index) {
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    std::vector<std::pair<T, int32_t>> heap(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r)
      topk_row(x + r * n, n, k, heap.data(), values + r * k, index + r * k);
  });
}

// y (dim) = b + Σ_s v[s] W[index[s], :], the slots of one row.
template <class T>
AE_CPU_CLONES void decode_row(const T* v, const int32_t* index, int64_t width, const T* w,
                              int64_t dim, const T* b, T* y) {
  if (b) std::copy(b, b + dim, y);
  else std::fill(y, y + dim, T(0));
  for (int64_t s = 0; s < width; ++s) {
    const int32_t i = index[s];
    const T vs = v[s];
    if (i < 0 || vs == T(0)) continue;
    const T* wi = w + static_cast<int64_t>(i) * dim;
    for (int64_t j = 0; j < dim; ++j) y[j] += vs * wi[j];
  }
}

// Σ_j a[j] b[j] in float64, over 8 interleaved partial sums added in a fixed order at the end:
// the same value on any CPU and thread count, and a loop the compiler can vectorise.
template <class T>
AE_CPU_CLONES double dot(const T* a, const T* b, int64_t n) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) part[l] += static_cast<double>(a[j + l]) * b[j + l];
  for (int l = 0; j < n; ++j, ++l) part[l] += static_cast<double>(a[j]) * b[j];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// acc (dim) += g x (dim), in float64.
template <class T>
AE_CPU_CLONES void axpy(double g, const T* x, double* acc, int64_t dim) {
  for (int64_t j = 0; j < dim; ++j) acc[j] += g * static_cast<double>(x[j]);
}

// Order-preserving unsigned keys of floats: a larger float has a larger key.
inline uint32_t sort_key(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline uint64_t sort_key(double v) {
  uint64_t u;
  std::memcpy(&u, &v, 8);
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}
inline float from_key(uint32_t k) {
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}
inline double from_key(uint64_t k) {
  uint64_t u = (k & 0x8000000000000000ull) ? (k & 0x7fffffffffffffffull) : ~k;
  double v;
  std::memcpy(&v, &u, 8);
  return v;
}

// Radix selection, 16 bits a pass from the top: each pass histograms the keys that share the
// prefix found so far and narrows it to the bin that holds the k-th largest. Linear in count,
// no copy of x.
template <class T>
T kth_largest_loop(const T* x, int64_t count, int64_t k) {
  using Key = decltype(sort_key(T()));
  constexpr int kBits = 8 * sizeof(Key);
  constexpr int kBins = 1 << 16;
  Key prefix = 0;
  int64_t rank = k;  // the rank still sought among keys with the prefix
  const int64_t threads = std::max<int64_t>(1, worker_threads());
  std::vector<int64_t> hist(static_cast<size_t>(threads) * kBins);
  for (int shift = kBits - 16; shift >= 0; shift -= 16) {
    const Key high_mask = shift + 16 >= kBits ? Key(0) : static_cast<Key>(~Key(0) << (shift + 16));
    std::fill(hist.begin(), hist.end(), 0);
    const int64_t chunks = std::min<int64_t>(threads, std::max<int64_t>(1, count / kParallelGrain));
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t* h = hist.data() + c * kBins;
        const int64_t b = count * c / chunks, e = count * (c + 1) / chunks;
        for (int64_t i = b; i < e; ++i) {
          const Key key = sort_key(x[i]);
          if ((key & high_mask) == prefix) ++h[(key >> shift) & 0xffff];
        }
      }
    });
    int64_t bin = kBins - 1;
    for (;; --bin) {
      int64_t in_bin = 0;
      for (int64_t c = 0; c < chunks; ++c) in_bin += hist[c * kBins + bin];
      if (in_bin >= rank || bin == 0) break;
      rank -= in_bin;
    }
    prefix |= static_cast<Key>(static_cast<Key>(bin) << shift);
  }
  return from_key(prefix);
}

// The k-th largest when k is a small share of count (a batchtopk step seeks the k · rows largest
// of its (rows, n) pre-activations, about k / n of them): the key at rank 1.5 k·S/count + 64 of a
// random sample of S keys is, with high probability, a little below the k-th largest. One
// counting pass checks that at least k keys reach that bound (and few enough to gather), a
// second gathers them, and nth_element ranks them. Exact whenever it answers, since every key at
// or above the bound is among the candidates; false (the caller runs the radix selection) when
// k is a large share of count or the sample was unlucky. Two vectorised compare passes where the
// radix selection makes two histogram passes with a scattered increment per key.
template <class T>
bool kth_largest_by_candidates(const T* x, int64_t count, int64_t k, T& out) {
  using Key = decltype(sort_key(T()));
  constexpr int64_t kSample = 4096;
  if (count < 16 * kSample || k > count / 32) return false;
  std::vector<Key> sample(kSample);
  uint64_t state = 0x9e3779b97f4a7c15ull;  // a fixed LCG stream: the same bound every call
  for (Key& key : sample) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    key = sort_key(x[static_cast<int64_t>((state >> 11) % static_cast<uint64_t>(count))]);
  }
  const int64_t rank = std::min<int64_t>(kSample - 1, 3 * k * kSample / (2 * count) + 64);
  std::nth_element(sample.begin(), sample.begin() + rank, sample.end(), std::greater<Key>());
  const Key bound = sample[static_cast<size_t>(rank)];
  const int64_t chunks =
      std::min<int64_t>(std::max<int64_t>(1, worker_threads()), std::max<int64_t>(1, count / kParallelGrain));
  std::vector<int64_t> offset(static_cast<size_t>(chunks) + 1, 0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = count * c / chunks, e = count * (c + 1) / chunks;
      int64_t n = 0;
      for (int64_t i = b; i < e; ++i) n += sort_key(x[i]) >= bound;
      offset[static_cast<size_t>(c) + 1] = n;
    }
  });
  for (int64_t c = 0; c < chunks; ++c) offset[c + 1] += offset[c];
  const int64_t total = offset[static_cast<size_t>(chunks)];
  if (total < k || total > 4 * k + 4 * kSample) return false;
  std::vector<Key> candidates(static_cast<size_t>(total));
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = count * c / chunks, e = count * (c + 1) / chunks;
      Key* out_c = candidates.data() + offset[static_cast<size_t>(c)];
      for (int64_t i = b; i < e; ++i) {
        const Key key = sort_key(x[i]);
        if (key >= bound) *out_c++ = key;
      }
    }
  });
  std::nth_element(candidates.begin(), candidates.begin() + (k - 1), candidates.end(),
                   std::greater<Key>());
  out = from_key(candidates[static_cast<size_t>(k - 1)]);
  return true;
}

template <class T>
const T* theta_of(const void* theta) {
  return static_cast<const T*>(theta);
}

// Whether a pre-activation x is kept against its threshold θ (and, for JumpReLU, within half the
// bandwidth below it, where the threshold's gradient lives): 0 or 1, without branches, so that
// loops over it vectorise.
template <class T>
inline int32_t kept_flag(T x, T theta, T band) {
  return static_cast<int32_t>((x > T(0)) & ((x >= theta) | (x > theta - band)));
}

// How many of x[0, n) are kept against θ (per latent: theta[i], else theta[0]). Most
// pre-activations fail the threshold, so the count and the select below scan for the few that
// pass rather than test each one in turn.
template <class T>
inline int32_t count_kept_inline(const T* x, int64_t n, const T* theta, bool per_latent, T band) {
  int32_t c = 0;
  if (per_latent) {
    for (int64_t i = 0; i < n; ++i) c += kept_flag(x[i], theta[i], band);
  } else {
    const T t = theta[0];
    for (int64_t i = 0; i < n; ++i) c += kept_flag(x[i], t, band);
  }
  return c;
}
template <class T>
AE_CPU_CLONES int32_t count_kept(const T* x, int64_t n, const T* theta, bool per_latent, T band) {
  return count_kept_inline(x, n, theta, per_latent, band);
}

// The kept entries of x[0, n) against θ (as in count_kept) into slots 0, 1, ... of v (x where
// x ≥ θ, else 0: JumpReLU's band), xa (x itself; may be null) and index (the latent), at most
// width of them; returns how many. Blocks of 16 latents are counted by a vectorised compare and
// skipped when none is kept; a block with some is compacted without a branch per latent (each
// latent's slot written, the slot advanced only when it is kept), where the slots after the last
// kept one leave room for the write past it.
template <class T>
AE_CPU_CLONES int64_t select_kept(const T* x, int64_t n, const T* theta, bool per_latent, T band,
                                  int64_t width, T* v, T* xa, int32_t* index) {
  constexpr int64_t kBlock = 16;
  int64_t s = 0;
  // Writes latent i into slot s and returns whether it is kept.
  auto put = [&](int64_t i) {
    const T xi = x[i], t = theta[per_latent ? i : 0];
    v[s] = xi >= t ? xi : T(0);
    if (xa) xa[s] = xi;
    index[s] = static_cast<int32_t>(i);
    return kept_flag(xi, t, band);
  };
  for (int64_t b = 0; b < n && s < width; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    const int64_t c =
        count_kept_inline(x + b, e - b, per_latent ? theta + b : theta, per_latent, band);
    if (c == 0) continue;
    if (s + c < width) {
      for (int64_t i = b; i < e; ++i) s += put(i);
    } else {  // the row's last slots: only kept latents are written
      for (int64_t i = b; i < e && s < width; ++i)
        if (kept_flag(x[i], theta[per_latent ? i : 0], band)) s += put(i);
    }
  }
  return s;
}

}  // namespace

void topk_rows(DType dt, const void* x, int64_t rows, int64_t n, int64_t k, void* values,
               int32_t* index, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    topk_rows_loop(static_cast<const T*>(x), rows, n, k, static_cast<T*>(values), index);
  });
}

void kth_largest(DType dt, const void* x, int64_t count, int64_t k, void* kth, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    T& out = *static_cast<T*>(kth);
    if (!kth_largest_by_candidates(xs, count, k, out)) out = kth_largest_loop(xs, count, k);
  });
}

void threshold_count(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                     bool per_latent, double band, int32_t* counts, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    const T* th = theta_of<T>(theta);
    const T bd = static_cast<T>(band);
    parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) counts[r] = count_kept(xs + r * n, n, th, per_latent, bd);
    });
  });
}

void threshold_select(DType dt, const void* x, int64_t rows, int64_t n, const void* theta,
                      bool per_latent, double band, int64_t width, void* values, void* x_at,
                      int32_t* index, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* xs = static_cast<const T*>(x);
    const T* th = theta_of<T>(theta);
    const T bd = static_cast<T>(band);
    T* v = static_cast<T*>(values);
    T* xa = static_cast<T*>(x_at);
    parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        T* vr = v + r * width;
        T* xar = xa ? xa + r * width : nullptr;
        int32_t* ir = index + r * width;
        for (int64_t s = select_kept(xs + r * n, n, th, per_latent, bd, width, vr, xar, ir);
             s < width; ++s) {
          vr[s] = T(0);
          if (xar) xar[s] = T(0);
          ir[s] = -1;
        }
      }
    });
  });
}

void sparse_decode(DType dt, const void* values, const int32_t* index, int64_t rows,
                   int64_t width, const void* w, int64_t dim, const void* b, void* y, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* v = static_cast<const T*>(values);
    const T* ws = static_cast<const T*>(w);
    const T* bs = static_cast<const T*>(b);
    T* ys = static_cast<T*>(y);
    parallel_for(rows, row_grain(width * dim), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        decode_row(v + r * width, index + r * width, width, ws, dim, bs, ys + r * dim);
    });
  });
}

void sparse_to_dense(DType dt, const void* values, const int32_t* index, int64_t rows,
                     int64_t width, int64_t latents, void* y, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* v = static_cast<const T*>(values);
    T* ys = static_cast<T*>(y);
    parallel_for(rows, row_grain(latents), [&](int64_t r0, int64_t r1) {
      std::fill(ys + r0 * latents, ys + r1 * latents, T(0));
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t s = 0; s < width; ++s)
          if (const int32_t i = index[r * width + s]; i >= 0) ys[r * latents + i] = v[r * width + s];
    });
  });
}

void sparse_decode_backward(DType dt, const void* dy, const int32_t* index, int64_t rows,
                            int64_t width, const void* w, int64_t dim, void* dv, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* dys = static_cast<const T*>(dy);
    const T* ws = static_cast<const T*>(w);
    T* dvs = static_cast<T*>(dv);
    parallel_for(rows, row_grain(width * dim), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* dyr = dys + r * dim;
        for (int64_t s = 0; s < width; ++s) {
          const int32_t i = index[r * width + s];
          if (i < 0) {
            dvs[r * width + s] = T(0);
            continue;
          }
          dvs[r * width + s] = static_cast<T>(dot(dyr, ws + static_cast<int64_t>(i) * dim, dim));
        }
      }
    });
  });
}

void group_by_latent(const int32_t* index, int64_t slots, int64_t latents, int32_t* offsets,
                     int32_t* order, Stream) {
  // A counting sort: counts, their prefix sums, then each slot in ascending order to its place.
  std::fill(offsets, offsets + latents + 1, 0);
  for (int64_t p = 0; p < slots; ++p)
    if (index[p] >= 0) ++offsets[index[p] + 1];
  for (int64_t i = 0; i < latents; ++i) offsets[i + 1] += offsets[i];
  std::vector<int32_t> next(offsets, offsets + latents);
  for (int64_t p = 0; p < slots; ++p)
    if (index[p] >= 0) order[next[index[p]]++] = static_cast<int32_t>(p);
}

void sparse_outer_grad(DType dt, const void* g, const int32_t* offsets, const int32_t* order,
                       int64_t width, const void* x, int64_t latents, int64_t dim, double beta,
                       void* dw, void* db, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* gs = static_cast<const T*>(g);
    const T* xs = static_cast<const T*>(x);
    T* dws = static_cast<T*>(dw);
    T* dbs = static_cast<T*>(db);
    const T bt = static_cast<T>(beta);
    const int64_t slots = offsets[latents];
    // Split by latent so that each chunk holds about the same number of slots.
    parallel_for(latents, row_grain(dim + 1 + (slots * dim) / std::max<int64_t>(latents, 1)),
                 [&](int64_t i0, int64_t i1) {
      std::vector<double> acc(dws ? dim : 0);
      for (int64_t i = i0; i < i1; ++i) {
        double bsum = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int32_t q = offsets[i]; q < offsets[i + 1]; ++q) {
          const int32_t p = order[q];
          const double gp = gs[p];
          bsum += gp;
          if (dws && gp != 0) axpy(gp, xs + (p / width) * dim, acc.data(), dim);
        }
        if (dws) {
          T* dwi = dws + i * dim;
          for (int64_t j = 0; j < dim; ++j)
            dwi[j] = (beta == 0 ? T(0) : bt * dwi[j]) + static_cast<T>(acc[j]);
        }
        if (dbs) dbs[i] = (beta == 0 ? T(0) : bt * dbs[i]) + static_cast<T>(bsum);
      }
    });
  });
}

void row_normalize(DType dt, void* w, int64_t rows, int64_t cols, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    T* ws = static_cast<T*>(w);
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        T* wr = ws + r * cols;
        const double norm = std::sqrt(dot(wr, wr, cols));
        if (norm == 0) continue;
        const T inv = static_cast<T>(1 / norm);
        for (int64_t j = 0; j < cols; ++j) wr[j] *= inv;
      }
    });
  });
}

void row_project_out(DType dt, const void* w, void* g, int64_t rows, int64_t cols, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* ws = static_cast<const T*>(w);
    T* gs = static_cast<T*>(g);
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* wr = ws + r * cols;
        T* gr = gs + r * cols;
        const T along = static_cast<T>(dot(gr, wr, cols));
        for (int64_t j = 0; j < cols; ++j) gr[j] -= along * wr[j];
      }
    });
  });
}

void jumprelu_l0(DType dt, const void* values, int64_t slots, int64_t rows, void* l0, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* v = static_cast<const T*>(values);
    int64_t active = 0;
    for (int64_t p = 0; p < slots; ++p) active += v[p] > T(0);
    *static_cast<T*>(l0) = static_cast<T>(static_cast<double>(active) / static_cast<double>(rows));
  });
}

void jumprelu_threshold_grad(DType dt, const void* dv, const void* dl0, const void* x_at,
                             const int32_t* index, int64_t rows, int64_t width,
                             const void* log_theta, double eps, void* g, Stream) {
  dispatch(dt, [&](auto tag) {
    using T = elem_t<decltype(tag)>;
    const T* dvs = static_cast<const T*>(dv);
    const T* xa = static_cast<const T*>(x_at);
    const T* lt = static_cast<const T*>(log_theta);
    const double l0_grad = dl0 ? static_cast<double>(*static_cast<const T*>(dl0)) / rows : 0.0;
    T* gs = static_cast<T*>(g);
    parallel_for(rows * width, kParallelGrain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int32_t i = index[p];
        if (i < 0) {
          gs[p] = T(0);
          continue;
        }
        const double theta = std::exp(static_cast<double>(lt[i]));
        const bool in_kernel = std::fabs(static_cast<double>(xa[p]) - theta) < eps / 2;
        const double dvp = dvs ? static_cast<double>(dvs[p]) : 0.0;
        gs[p] = in_kernel ? static_cast<T>(-theta / eps * (dvp * theta + l0_grad)) : T(0);
      }
    });
  });
}

}  // namespace ae::cpu
