/* The q8_0 plugin's CUDA kernels on the emulator (TSR_CUDA_EMU). */
#include "q8_0/q8_0_cuda.cu"
