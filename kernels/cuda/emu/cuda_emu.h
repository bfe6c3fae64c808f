/* The CUDA emulator: the kernels of kernels/cuda/ and of the quant plugins,
 * compiled by a host C++ compiler and run on the CPU, so that they are
 * tested on machines without a GPU (most development machines, and CI).
 *
 * A kernel is a plain function here. A launch (TSR_LAUNCH, which the .cu
 * sources use instead of <<< >>>) runs the grid's blocks one after another;
 * each thread of a block is a fiber (ucontext) with its own stack, and
 * fibers switch only at the points where CUDA threads meet: __syncthreads,
 * __syncwarp and the __shfl_*_sync / __ballot_sync / __any_sync /
 * __all_sync intrinsics. The scheduler runs every runnable fiber up to its
 * next meeting point, in an order the test chooses (forward, reverse, or a
 * seeded random permutation per round, blocks likewise), then releases the
 * meetings that everyone they name has reached. A fixed order hides races
 * that a real GPU shows now and then; three orders show most of them.
 *
 * A meeting that can never complete aborts with a clear message on stderr:
 * a __syncthreads that some thread of the block returned without reaching,
 * a warp operation whose mask names a lane that returned or waits
 * elsewhere, lanes of one mask at different operations. On a GPU these hang
 * or give undefined results.
 *
 * What it does not model: the GPU's weak memory ordering (fibers see every
 * store at once, so a missing __threadfence goes unnoticed), warps running
 * in lockstep (code that relies on implicit warp synchrony without
 * __syncwarp is a bug here as on Volta and later), shared memory being
 * fresh per block (a __shared__ array is one static per kernel, which keeps
 * the last block's values), and what has no scalar meaning: tensor-core
 * mma, inline PTX and cp.async. A kernel that uses those keeps a plain
 * path under #ifdef TSR_CUDA_EMU, and that path is what the emulated tests
 * run. Atomics are plain read-modify-writes, which is exact: fibers never
 * interleave inside one.
 *
 * Memory: cudaMalloc is host memory filled with 0xff bytes (NaN as floats,
 * so a kernel that reads what nobody wrote shows it), and the copies are
 * memcpy. Single-threaded per launch; launches on different host threads
 * are independent (the scheduler's state is thread_local). */
#ifndef TSR_CUDA_EMU_H
#define TSR_CUDA_EMU_H

#ifndef __cplusplus
#error "cuda_emu.h is C++: compile the .cu sources with a C++ compiler"
#endif
#ifdef __CUDACC__
#error "cuda_emu.h is for host compilers; nvcc compiles the kernels for the device"
#endif

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define TSR_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TSR_EMU_ASAN 1
#endif
#endif
#ifdef TSR_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* ---- the language --------------------------------------------------------- */

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
/* One array per kernel, shared by the fibers of the running block. */
#define __shared__ static thread_local

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

enum { warpSize = 32 };

/* ---- the runtime API subset the launchers and tests use ------------------ */

/* The runtime's numbering, so that codes read the same in both builds. */
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
};

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct tsr_emu_stream *cudaStream_t;

/* Thread orders: which runnable fiber (and which block) goes first. */
enum tsr_emu_order { TSR_EMU_FORWARD = 0, TSR_EMU_REVERSE = 1, TSR_EMU_RANDOM = 2 };

namespace tsr_emu {

enum class wait { runnable, block_barrier, warp_op, returned };

enum warp_op_kind { OP_SYNCWARP, OP_SHFL, OP_SHFL_UP, OP_SHFL_DOWN, OP_SHFL_XOR, OP_BALLOT };

struct fiber {
    ucontext_t context;
    uint3 thread_idx;
    unsigned linear; /* x + y * blockDim.x + z * blockDim.x * blockDim.y */
    wait state;
    /* The warp operation it waits at, and what it offered. */
    const char *op_name;
    warp_op_kind op;
    unsigned mask;
    uint64_t value;
    int arg, width;
    uint64_t result;
    char *stack;
    size_t stack_bytes;
    void *asan_fake_stack;
};

struct block_run {
    const char *kernel;
    uint3 block_idx;
    dim3 block_dim, grid_dim;
    const std::function<void()> *body;
    std::vector<fiber> fibers;
    ucontext_t scheduler;
    const void *scheduler_stack;
    size_t scheduler_stack_bytes;
};

struct state {
    tsr_emu_order order = TSR_EMU_FORWARD;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    cudaError_t last_error = cudaSuccess;
    block_run *block = nullptr;
    fiber *current = nullptr;
};

inline state &now()
{
    static thread_local state s;
    return s;
}

[[noreturn]] inline void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
inline void fail(const char *fmt, ...)
{
    block_run *b = now().block;
    std::fprintf(stderr, "tessera cuda emulator: ");
    if (b)
        std::fprintf(stderr, "kernel %s, block (%u,%u,%u): ", b->kernel, b->block_idx.x,
                     b->block_idx.y, b->block_idx.z);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
    std::abort();
}

/* splitmix64: the seeded random order. */
inline uint64_t next_random()
{
    uint64_t z = (now().rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 0 .. n-1 in the chosen order. */
inline void order_indices(std::vector<unsigned> &idx, unsigned n)
{
    idx.resize(n);
    for (unsigned i = 0; i < n; i++)
        idx[i] = now().order == TSR_EMU_REVERSE ? n - 1 - i : i;
    if (now().order == TSR_EMU_RANDOM)
        for (unsigned i = n; i > 1; i--) {
            unsigned j = (unsigned)(next_random() % i);
            unsigned t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
}

inline fiber *current_fiber()
{
    fiber *f = now().current;
    if (!f)
        fail("a kernel-side name (threadIdx, __syncthreads, ...) used outside a kernel");
    return f;
}

inline block_run *current_block()
{
    current_fiber();
    return now().block;
}

/* ---- switching ------------------------------------------------------------- */

/* From a fiber to the scheduler; returns when the scheduler runs it again
 * (never, when it returned from the kernel). */
inline void to_scheduler(fiber *f, bool returned)
{
    block_run *b = now().block;
    (void)returned;
#ifdef TSR_EMU_ASAN
    __sanitizer_start_switch_fiber(returned ? nullptr : &f->asan_fake_stack, b->scheduler_stack,
                                   b->scheduler_stack_bytes);
#endif
    swapcontext(&f->context, &b->scheduler);
#ifdef TSR_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake_stack, &b->scheduler_stack,
                                    &b->scheduler_stack_bytes);
#endif
}

inline void fiber_main()
{
    fiber *f = now().current;
    block_run *b = now().block;
#ifdef TSR_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &b->scheduler_stack, &b->scheduler_stack_bytes);
#endif
    (*b->body)();
    f->state = wait::returned;
    to_scheduler(f, true);
    fail("a returned thread was resumed");
}

inline void run(block_run *b, fiber *f)
{
    now().current = f;
#ifdef TSR_EMU_ASAN
    void *fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, f->stack, f->stack_bytes);
#endif
    swapcontext(&b->scheduler, &f->context);
#ifdef TSR_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    now().current = nullptr;
}

/* ---- meetings --------------------------------------------------------------- */

inline const char *describe(const fiber &f, char *buf, size_t size)
{
    std::snprintf(buf, size, "thread (%u,%u,%u) (warp %u lane %u)", f.thread_idx.x,
                  f.thread_idx.y, f.thread_idx.z, f.linear / warpSize, f.linear % warpSize);
    return buf;
}

/* The lane a warp operation of lane reads from, or lane itself where CUDA
 * gives the lane its own value. */
inline unsigned source_lane(const fiber &f, unsigned lane)
{
    unsigned width = (unsigned)f.width, segment = lane & ~(width - 1);
    switch (f.op) {
    case OP_SHFL:
        return segment + ((unsigned)f.arg & (width - 1));
    case OP_SHFL_UP:
        return lane - segment >= (unsigned)f.arg ? lane - (unsigned)f.arg : lane;
    case OP_SHFL_DOWN:
        return lane + (unsigned)f.arg < segment + width ? lane + (unsigned)f.arg : lane;
    case OP_SHFL_XOR: {
        unsigned src = lane ^ (unsigned)f.arg;
        return src < segment + width ? src : lane;
    }
    default:
        return lane;
    }
}

/* Completes the warp operations every lane of whose mask has arrived;
 * aborts on one that can never complete. True when it released any. */
inline bool release_warp_ops(block_run *b)
{
    bool released = false;
    unsigned n = (unsigned)b->fibers.size();
    char a[96], c[96];
    for (unsigned base = 0; base < n; base += warpSize) {
        fiber *lanes = &b->fibers[base];
        unsigned n_lanes = n - base < (unsigned)warpSize ? n - base : (unsigned)warpSize;
        for (unsigned l = 0; l < n_lanes; l++) {
            const fiber &first = lanes[l];
            if (first.state != wait::warp_op)
                continue;
            unsigned mask = first.mask;
            bool complete = true;
            for (unsigned m = 0; m < (unsigned)warpSize; m++) {
                if (!(mask >> m & 1))
                    continue;
                if (m >= n_lanes)
                    fail("%s: %s's mask 0x%08x names lane %u, which the block does not have "
                         "(%u threads)",
                         first.op_name, describe(first, a, sizeof a), mask, m, n);
                const fiber &other = lanes[m];
                if (other.state == wait::returned)
                    fail("%s reached by part of a warp: %s waits with mask 0x%08x, but %s "
                         "returned",
                         first.op_name, describe(first, a, sizeof a), mask,
                         describe(other, c, sizeof c));
                if (other.state != wait::warp_op) {
                    complete = false;
                    continue;
                }
                if (other.mask != mask || other.op != first.op)
                    fail("lanes of one mask at different warp operations: %s at %s with mask "
                         "0x%08x, %s at %s with mask 0x%08x",
                         describe(first, a, sizeof a), first.op_name, mask,
                         describe(other, c, sizeof c), other.op_name, other.mask);
            }
            if (!complete)
                continue;
            uint64_t ballot = 0;
            for (unsigned m = 0; m < (unsigned)warpSize; m++)
                if (mask >> m & 1 && lanes[m].value)
                    ballot |= 1ull << m;
            for (unsigned m = 0; m < (unsigned)warpSize; m++) {
                if (!(mask >> m & 1))
                    continue;
                fiber &lane = lanes[m];
                if (lane.op == OP_BALLOT) {
                    lane.result = ballot;
                } else if (lane.op != OP_SYNCWARP) {
                    unsigned src = source_lane(lane, m);
                    if (!(mask >> src & 1))
                        fail("%s: %s reads lane %u, which its mask 0x%08x leaves out",
                             lane.op_name, describe(lane, a, sizeof a), src, mask);
                    lane.result = lanes[src].value;
                }
            }
            for (unsigned m = 0; m < (unsigned)warpSize; m++)
                if (mask >> m & 1)
                    lanes[m].state = wait::runnable;
            released = true;
        }
    }
    return released;
}

/* Releases a __syncthreads that every thread of the block reached; aborts
 * on one that some thread returned without reaching. */
inline bool release_block_barrier(block_run *b)
{
    unsigned arrived = 0, returned_at = ~0u;
    for (unsigned i = 0; i < b->fibers.size(); i++) {
        if (b->fibers[i].state == wait::block_barrier)
            arrived++;
        else if (b->fibers[i].state == wait::returned && returned_at == ~0u)
            returned_at = i;
    }
    if (arrived == 0)
        return false;
    char a[96];
    if (returned_at != ~0u)
        fail("__syncthreads reached by %u of %u threads: %s returned without it", arrived,
             (unsigned)b->fibers.size(), describe(b->fibers[returned_at], a, sizeof a));
    if (arrived < b->fibers.size())
        return false;
    for (fiber &f : b->fibers)
        f.state = wait::runnable;
    return true;
}

/* Nothing can move: name who waits where. */
[[noreturn]] inline void stuck(block_run *b)
{
    const fiber *at_barrier = nullptr, *at_warp = nullptr;
    unsigned n_barrier = 0, n_warp = 0;
    for (const fiber &f : b->fibers) {
        if (f.state == wait::block_barrier) {
            n_barrier++;
            at_barrier = at_barrier ? at_barrier : &f;
        } else if (f.state == wait::warp_op) {
            n_warp++;
            at_warp = at_warp ? at_warp : &f;
        }
    }
    char a[96], c[96];
    fail("deadlock: %u threads wait at __syncthreads (first %s), %u at warp operations (first "
         "%s at %s with mask 0x%08x): a barrier reached by only part of the block or warp",
         n_barrier, at_barrier ? describe(*at_barrier, a, sizeof a) : "none", n_warp,
         at_warp ? describe(*at_warp, c, sizeof c) : "none", at_warp ? at_warp->op_name : "-",
         at_warp ? at_warp->mask : 0u);
}

inline void run_block(block_run *b)
{
    for (fiber &f : b->fibers) {
        f.state = wait::runnable;
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack;
        f.context.uc_stack.ss_size = f.stack_bytes;
        f.context.uc_link = nullptr;
        makecontext(&f.context, fiber_main, 0);
    }
    std::vector<unsigned> order;
    for (;;) {
        order_indices(order, (unsigned)b->fibers.size());
        for (unsigned i : order)
            if (b->fibers[i].state == wait::runnable)
                run(b, &b->fibers[i]);
        bool all_returned = true;
        for (const fiber &f : b->fibers)
            all_returned = all_returned && f.state == wait::returned;
        if (all_returned)
            return;
        if (!release_warp_ops(b) && !release_block_barrier(b))
            stuck(b);
    }
}

/* Bytes of stack per thread. Kernels keep a few registers' worth of locals;
 * AddressSanitizer's redzones want more. */
#ifdef TSR_EMU_ASAN
constexpr size_t STACK_BYTES = 512 * 1024;
#else
constexpr size_t STACK_BYTES = 128 * 1024;
#endif

inline void launch(const char *kernel, dim3 grid, dim3 block, cudaStream_t stream,
                   const std::function<void()> &body)
{
    (void)stream;
    if (now().block)
        fail("kernel %s launched from inside a kernel (dynamic parallelism is not emulated)",
             kernel);
    uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 ||
        grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
        now().last_error = cudaErrorInvalidConfiguration;
        return;
    }
    /* One stack per thread, each above a guard page, reused block after block. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), slot = STACK_BYTES + page;
    char *stacks = (char *)mmap(nullptr, slot * threads, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED)
        fail("cannot map %llu thread stacks for kernel %s", (unsigned long long)threads, kernel);
    block_run b{};
    b.kernel = kernel;
    b.block_dim = block;
    b.grid_dim = grid;
    b.body = &body;
    b.fibers.resize(threads);
    for (unsigned i = 0; i < threads; i++) {
        fiber &f = b.fibers[i];
        mprotect(stacks + i * slot, page, PROT_NONE);
        f.stack = stacks + i * slot + page;
        f.stack_bytes = STACK_BYTES;
        f.linear = i;
        f.thread_idx = {i % block.x, i / block.x % block.y, i / (block.x * block.y)};
    }
    uint64_t n_blocks = (uint64_t)grid.x * grid.y * grid.z;
    std::vector<unsigned> order;
    order_indices(order, (unsigned)n_blocks);
    now().block = &b;
    for (unsigned i : order) {
        b.block_idx = {i % grid.x, i / grid.x % grid.y, i / (grid.x * grid.y)};
        run_block(&b);
    }
    now().block = nullptr;
    munmap(stacks, slot * threads);
}

inline uint64_t warp_op(const char *name, warp_op_kind op, unsigned mask, uint64_t value,
                        int arg, int width)
{
    fiber *f = current_fiber();
    char a[96];
    if (!(mask >> (f->linear % warpSize) & 1))
        fail("%s: %s calls with mask 0x%08x, which leaves out its own lane", name,
             describe(*f, a, sizeof a), mask);
    if (width < 1 || width > warpSize || (width & (width - 1)))
        fail("%s: %s gives width %d, not a power of two up to 32", name,
             describe(*f, a, sizeof a), width);
    f->state = wait::warp_op;
    f->op_name = name;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    to_scheduler(f, false);
    return f->result;
}

template <typename T> uint64_t to_bits(T v)
{
    static_assert(sizeof(T) <= 8, "warp operations move up to 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    return bits;
}

template <typename T> T from_bits(uint64_t bits)
{
    T v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}

} // namespace tsr_emu

namespace tsr_emu {
/* The arguments, evaluated at the launch and converted to the kernel's
 * parameter types, as a launch copies them; every thread calls the kernel
 * with those copies. */
template <typename... P, typename... A>
std::function<void()> bind_arguments(void (*kernel)(P...), A &&...args)
{
    std::tuple<P...> values(std::forward<A>(args)...);
    return [kernel, values]() { std::apply(kernel, values); };
}
} // namespace tsr_emu

/* The launch: TSR_LAUNCH(kernel, grid, block, stream, args...) runs
 * kernel<<<grid, block, 0, stream>>>(args...), here to completion. */
#define TSR_LAUNCH(kernel, grid, block, stream, ...)                                       \
    ::tsr_emu::launch(#kernel, dim3(grid), dim3(block), (cudaStream_t)(stream),            \
                      ::tsr_emu::bind_arguments(kernel, __VA_ARGS__))

#define threadIdx (::tsr_emu::current_fiber()->thread_idx)
#define blockIdx (::tsr_emu::current_block()->block_idx)
#define blockDim (::tsr_emu::current_block()->block_dim)
#define gridDim (::tsr_emu::current_block()->grid_dim)

/* Chooses the order of the launches that follow on this host thread. */
inline void tsr_emu_set_order(tsr_emu_order order, uint64_t seed)
{
    tsr_emu::now().order = order;
    tsr_emu::now().rng = seed;
}

/* ---- meeting points ------------------------------------------------------- */

inline void __syncthreads()
{
    tsr_emu::fiber *f = tsr_emu::current_fiber();
    f->state = tsr_emu::wait::block_barrier;
    f->op_name = "__syncthreads";
    tsr_emu::to_scheduler(f, false);
}

inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    tsr_emu::warp_op("__syncwarp", tsr_emu::OP_SYNCWARP, mask, 0, 0, warpSize);
}

template <typename T> T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize)
{
    return tsr_emu::from_bits<T>(tsr_emu::warp_op("__shfl_sync", tsr_emu::OP_SHFL, mask,
                                                  tsr_emu::to_bits(v), src_lane, width));
}

template <typename T> T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize)
{
    return tsr_emu::from_bits<T>(tsr_emu::warp_op("__shfl_up_sync", tsr_emu::OP_SHFL_UP, mask,
                                                  tsr_emu::to_bits(v), (int)delta, width));
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize)
{
    return tsr_emu::from_bits<T>(tsr_emu::warp_op("__shfl_down_sync", tsr_emu::OP_SHFL_DOWN,
                                                  mask, tsr_emu::to_bits(v), (int)delta, width));
}

template <typename T> T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize)
{
    return tsr_emu::from_bits<T>(tsr_emu::warp_op("__shfl_xor_sync", tsr_emu::OP_SHFL_XOR, mask,
                                                  tsr_emu::to_bits(v), lane_mask, width));
}

inline unsigned __ballot_sync(unsigned mask, int predicate)
{
    return (unsigned)tsr_emu::warp_op("__ballot_sync", tsr_emu::OP_BALLOT, mask, predicate != 0,
                                      0, warpSize);
}

inline int __any_sync(unsigned mask, int predicate)
{
    return __ballot_sync(mask, predicate) != 0;
}

inline int __all_sync(unsigned mask, int predicate)
{
    return __ballot_sync(mask, predicate) == mask;
}

/* ---- atomics: plain read-modify-writes (fibers never interleave inside) -- */

template <typename T> T atomicAdd(T *p, T v)
{
    T old = *p;
    *p = old + v;
    return old;
}

template <typename T> T atomicMax(T *p, T v)
{
    T old = *p;
    *p = old > v ? old : v;
    return old;
}

template <typename T> T atomicMin(T *p, T v)
{
    T old = *p;
    *p = old < v ? old : v;
    return old;
}

template <typename T> T atomicExch(T *p, T v)
{
    T old = *p;
    *p = v;
    return old;
}

template <typename T> T atomicCAS(T *p, T compare, T v)
{
    T old = *p;
    if (old == compare)
        *p = v;
    return old;
}

inline void __threadfence() {}
inline void __threadfence_block() {}

/* ---- device math with no host twin ---------------------------------------- */

inline float rsqrtf(float x)
{
    return 1.0f / std::sqrt(x);
}
inline float __expf(float x)
{
    return std::exp(x);
}
inline float __fdividef(float a, float b)
{
    return a / b;
}
inline int __float_as_int(float f)
{
    return tsr_emu::from_bits<int>(tsr_emu::to_bits(f));
}
inline float __int_as_float(int i)
{
    return tsr_emu::from_bits<float>(tsr_emu::to_bits(i));
}
inline unsigned __float_as_uint(float f)
{
    return tsr_emu::from_bits<unsigned>(tsr_emu::to_bits(f));
}
inline float __uint_as_float(unsigned u)
{
    return tsr_emu::from_bits<float>(tsr_emu::to_bits(u));
}
inline int __popc(unsigned x)
{
    return __builtin_popcount(x);
}
template <typename T> T __ldg(const T *p)
{
    return *p;
}

/* ---- memory and errors ------------------------------------------------------ */

inline cudaError_t cudaGetLastError()
{
    cudaError_t e = tsr_emu::now().last_error;
    tsr_emu::now().last_error = cudaSuccess;
    return e;
}

inline cudaError_t cudaPeekAtLastError()
{
    return tsr_emu::now().last_error;
}

inline const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "cudaSuccess";
    case cudaErrorInvalidValue:
        return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
        return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
        return "cudaErrorInvalidConfiguration";
    }
    return "cudaErrorUnknown";
}

inline const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorInvalidValue:
        return "invalid argument";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInvalidConfiguration:
        return "invalid configuration argument";
    }
    return "unknown error";
}

inline cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1; /* the emulator */
    return cudaSuccess;
}

template <typename T> cudaError_t cudaMalloc(T **p, size_t bytes)
{
    void *mem = std::malloc(bytes ? bytes : 1);
    if (!mem)
        return cudaErrorMemoryAllocation;
    std::memset(mem, 0xff, bytes);
    *p = (T *)mem;
    return cudaSuccess;
}

inline cudaError_t cudaFree(void *p)
{
    std::free(p);
    return cudaSuccess;
}

inline cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    (void)kind;
    if (bytes)
        std::memcpy(dst, src, bytes);
    return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes,
                                   cudaMemcpyKind kind, cudaStream_t stream = nullptr)
{
    (void)stream;
    return cudaMemcpy(dst, src, bytes, kind);
}

inline cudaError_t cudaMemset(void *p, int value, size_t bytes)
{
    std::memset(p, value, bytes);
    return cudaSuccess;
}

inline cudaError_t cudaDeviceSynchronize()
{
    return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    (void)stream;
    return cudaSuccess;
}

#endif
