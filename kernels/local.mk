# Format-independent kernels: kernels/cpu always, kernels/cuda with --enable-cuda.
libtessera_core_la_SOURCES += \
	kernels/cpu/kernels.h kernels/cpu/simd.h kernels/cpu/kernels.c \
	kernels/cpu/norm.c kernels/cpu/rope.c kernels/cpu/elementwise.c kernels/cpu/attention.c
if HAVE_CUDA
SUFFIXES = .cu .lo
# nvcc objects wrapped as libtool objects so they link into libtessera.
.cu.lo:
	$(AM_V_GEN)$(LIBTOOL) --tag=CC --mode=compile $(top_srcdir)/build-aux/nvcc-wrap $(NVCC) $(NVCCFLAGS) \
		$(AM_CPPFLAGS) -c -o $@ $<
libtessera_core_la_SOURCES += kernels/cuda/device.cu
libtessera_core_la_LIBADD += $(CUDA_LIBS)
endif
EXTRA_DIST += kernels/cuda/device.cu build-aux/nvcc-wrap
