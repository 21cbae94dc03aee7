/* error.c - the child's reports to the parent: FAILED {step, errno, detail} and exit,
 * or NOTE and go on (error.h). After CREATED, when nobody reads the socket, a failure
 * is one line on the container's stderr instead. Only write(2) and the message send:
 * no stdio, no malloc, as everywhere in the child. */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

/* The command a detached child will exec, for the stderr line; set once it is detached. */
static const char *failed_command;

static char *append(char *at, const char *end, const char *text)
{
    while (*text && at < end)
        *at++ = *text++;
    return at;
}

static char *append_number(char *at, const char *end, long value)
{
    char digits[24];
    char *text = digits;
    if (value < 0)
        *text++ = '-';
    isolate_decimal(text, value < 0 ? -(unsigned long)value : (unsigned long)value);
    for (text = digits; *text != '\0' && at < end; text++)
        *at++ = *text;
    return at;
}

/* After CREATED nobody reads the socket: one line on the container's stderr instead, in
 * the words Isolate would use. Only write(2): no stdio here. */
static void report_on_stderr(uint32_t step, int err, const char *what)
{
    char line[512];
    char *at = line, *end = line + sizeof line - 1;
    at = append(at, end, "isolate: ");
    if (step == ISOLATE_STEP_EXEC) {
        at = append(at, end, "exec ");
        at = append(at, end, what != NULL ? what : "");
        at = append(at, end, err == ENOENT ? ": executable file not found in $PATH"
                             : err == EACCES ? ": permission denied"
                             : err == ENOEXEC ? ": exec format error" : ": failed, errno ");
        if (err != ENOENT && err != EACCES && err != ENOEXEC)
            at = append_number(at, end, err);
    } else {
        at = append(at, end, "container setup failed at step ");
        at = append_number(at, end, (long)step);
        at = append(at, end, ", errno ");
        at = append_number(at, end, err);
    }
    *at++ = '\n';
    if (write(2, line, (size_t)(at - line)) < 0) {
        /* nowhere else to say it */
    }
}

void isolate_child_report_on_stderr(const char *command)
{
    failed_command = command;
}

void isolate_child_fail(int sync_fd, uint32_t step, int err, int32_t detail)
{
    struct isolate_msg msg = { .type = ISOLATE_MSG_FAILED, .step = step, .err = err, .detail = detail };
    if (sync_fd >= 0)
        isolate_msg_send(sync_fd, &msg, -1);
    else
        report_on_stderr(step, err, failed_command);

    int code = ISOLATE_EXIT_SETUP_FAILED;
    if (step == ISOLATE_STEP_EXEC)
        code = err == ENOENT ? ISOLATE_EXIT_NOT_FOUND : ISOLATE_EXIT_CANNOT_EXEC;
    _exit(code);
}

void isolate_child_note(int sync_fd, uint32_t note, int err, int32_t detail)
{
    struct isolate_msg msg = { .type = ISOLATE_MSG_NOTE, .step = note, .err = err, .detail = detail };
    isolate_msg_send(sync_fd, &msg, -1);
}
