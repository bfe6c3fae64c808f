/* kernels/cuda on the emulator (TSR_CUDA_EMU). */
#include "cuda/kernels.cu"
