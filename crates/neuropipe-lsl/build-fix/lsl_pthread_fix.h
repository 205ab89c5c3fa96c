/* Forced into the C/C++ build of the vendored liblsl 1.13 (lsl-sys 0.1.1) via
 * CXXFLAGS/CFLAGS in .cargo/config.toml. Since glibc 2.34, PTHREAD_STACK_MIN is a
 * sysconf() call, which breaks `#if PTHREAD_STACK_MIN > 0` in the bundled boost.
 * Defining it as a constant (the historical Linux value) restores the build. */
#ifndef NEUROPIPE_LSL_PTHREAD_FIX_H
#define NEUROPIPE_LSL_PTHREAD_FIX_H
#include <pthread.h>
#include <limits.h>
#undef PTHREAD_STACK_MIN
#define PTHREAD_STACK_MIN 16384
#endif
