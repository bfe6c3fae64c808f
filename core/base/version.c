/* What this build is. */
#include "config.h"

#include "tessera/tessera.h"

const char *tsr_version(void)
{
    return PACKAGE_VERSION;
}

const char *tsr_build_options(void)
{
    return "cuda="
#ifdef TSR_HAVE_CUDA
           "yes"
#else
           "no"
#endif
           " mpi="
#ifdef TSR_HAVE_MPI
           "yes"
#else
           "no"
#endif
           " sanitizers="
#if defined(__SANITIZE_ADDRESS__)
           "yes"
#else
           "no"
#endif
        ;
}
