/* error.h - how the child tells the parent what happened, between clone() and execve().
 *
 * One convention for every step: {step, errno, detail} in a fixed-size message on the
 * sync socket (FAILED or NOTE, see the protocol in isolate_shim.h); C# turns it into
 * the one-line error, since it still holds the paths `detail` points into. These are
 * leaves: error.c calls nothing of the child's own files but msg.c, so child.c,
 * mounts.c, security.c and init.c all report through here and nothing calls back. */
#ifndef ISOLATE_ERROR_H
#define ISOLATE_ERROR_H

#include <stdint.h>

/* The one error convention of the child: report {step, errno, index} to the
 * parent and _exit(). Never returns. */
__attribute__((noreturn)) void isolate_child_fail(int sync_fd, uint32_t step, int err, int32_t detail);

/* Tells the parent something worth a --debug line, and goes on. */
void isolate_child_note(int sync_fd, uint32_t note, int err, int32_t detail);

/* Detached, once CREATED is sent: nobody reads the sync socket any more, so a failure
 * reported with sync_fd -1 becomes one line on the container's stderr; an exec
 * failure names command. */
void isolate_child_report_on_stderr(const char *command);

#endif
