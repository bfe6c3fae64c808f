# Format-independent kernels: kernels/cpu always, kernels/cuda with --enable-cuda.
libtessera_core_la_SOURCES += \
	kernels/cpu/kernels.h kernels/cpu/simd.h kernels/cpu/kernels.c \
	kernels/cpu/norm.c kernels/cpu/rope.c kernels/cpu/elementwise.c kernels/cpu/attention.c

# The CUDA sources and the emulator that runs them without a GPU (the tests
# compile them with the C++ compiler: tests/local.mk).
CUDA_KERNEL_INCLUDES = kernels/cuda/common.cuh kernels/cuda/kernels.h kernels/cuda/emu/cuda_emu.h
EXTRA_DIST += kernels/cuda/device.cu kernels/cuda/kernels.cu $(CUDA_KERNEL_INCLUDES) \
	build-aux/nvcc-wrap

if HAVE_CUDA
# nvcc compiles every .cu (here and in the quant plugins) into a libtool
# object; nvcc-wrap passes libtool's gcc-style flags on to the host compiler.
SUFFIXES = .cu .lo
NVCC_CPPFLAGS = $(AM_CPPFLAGS) $(CUDA_CPPFLAGS) -I$(top_srcdir)/plugins/quant
AM_V_NVCC = $(am__v_NVCC_@AM_V@)
am__v_NVCC_ = $(am__v_NVCC_@AM_DEFAULT_V@)
am__v_NVCC_0 = @echo "  NVCC    " $@;
am__v_NVCC_1 =
.cu.lo:
	$(AM_V_NVCC)$(LIBTOOL) $(AM_V_lt) --tag=CC --mode=compile $(top_srcdir)/build-aux/nvcc-wrap \
		$(NVCC) $(TSR_NVCCFLAGS) $(NVCCFLAGS) $(NVCC_CPPFLAGS) -c -o $@ $<
libtessera_core_la_SOURCES += kernels/cuda/device.cu kernels/cuda/kernels.cu
libtessera_core_la_LIBADD += $(CUDA_LIBS)
# The .cu objects have no automatic dependency tracking: their headers.
kernels/cuda/kernels.lo: $(CUDA_KERNEL_INCLUDES) kernels/cpu/kernels.h include/tessera/plugin.h
endif
