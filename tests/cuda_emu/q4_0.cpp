/* The q4_0 plugin's CUDA kernels on the emulator (TSR_CUDA_EMU). */
#include "q4_0/q4_0_cuda.cu"
