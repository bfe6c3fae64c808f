/* The q4_1 plugin's CUDA kernels on the emulator (TSR_CUDA_EMU). */
#include "q4_1/q4_1_cuda.cu"
