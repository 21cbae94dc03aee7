/* fsutil.h - small filesystem helpers the child can call (no allocation). */
#ifndef ISOLATE_FSUTIL_H
#define ISOLATE_FSUTIL_H

#include <sys/types.h>

/* mkdir -p with a stack buffer; existing directories are fine. 0 or -errno. */
int isolate_mkdir_p(const char *path, mode_t mode);

#endif
