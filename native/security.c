/* security.c - the last steps before execve: capability bounding set, user and
 * groups, capability sets, no_new_privs, seccomp. Order matters (see
 * isolate_apply_security); only system calls, as everywhere in the child. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef PR_CAP_AMBIENT_RAISE
#define PR_CAP_AMBIENT_RAISE 2
#endif

static int drop_bounding(const struct isolate_process_security *sec)
{
    for (uint32_t cap = 0; cap <= sec->last_cap && cap < 64; cap++) {
        if (!(sec->cap_bounding & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    }
    return 0;
}

/* capset with the v3 ABI: two 32-bit words per set. */
static int set_capabilities(const struct isolate_process_security *sec)
{
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(sec->cap_effective >> (32 * i));
        data[i].permitted = (uint32_t)(sec->cap_permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(sec->cap_inheritable >> (32 * i));
    }
    return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

/* A non-root command under docker's rule starts with no capabilities: setresuid cleared
 * permitted and effective; inheritable goes here (execve does not bound it). */
static int clear_capabilities(void)
{
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

static int install_seccomp(const struct isolate_process_security *sec)
{
    struct sock_fprog prog = { .len = (unsigned short)sec->seccomp_len, .filter = (struct sock_filter *)sec->seccomp };
    unsigned flags = (sec->flags & ISOLATE_SECURITY_SECCOMP_LOG ? SECCOMP_FILTER_FLAG_LOG : 0)
        | (sec->flags & ISOLATE_SECURITY_SECCOMP_SPEC_ALLOW ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0 ? -errno : 0;
}

/* PR_SET_PDEATHSIG is cleared by the kernel whenever our uid or gid changes, and a
 * container whose Isolate was killed must die with it whatever user it became:
 * armed again after every change, then the parent checked (it may have died in
 * between): its end of the sync socket hangs up when it does. */
void isolate_child_rearm(int sync_fd, int outlives_parent)
{
    if (!outlives_parent)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_DUMPABLE, 0); /* a credential change resets it to the system default */
    struct pollfd pfd = { .fd = sync_fd, .events = 0 };
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
        _exit(ISOLATE_EXIT_SETUP_FAILED);
}

void isolate_apply_security(const struct isolate_process_security *sec, int sync_fd, int outlives_parent)
{
    isolate_apply_credentials(sec, sync_fd, outlives_parent);
    isolate_apply_late_seccomp(sec, sync_fd);
}

void isolate_apply_credentials(const struct isolate_process_security *sec, int sync_fd, int outlives_parent)
{
    int rc;
    /* Installing a filter needs no_new_privs or CAP_SYS_ADMIN: without no_new_privs,
     * it goes in first, while the child still holds every capability (the filter
     * must then allow what follows, which the default one does). */
    int nnp = (sec->flags & ISOLATE_SECURITY_NO_NEW_PRIVS) != 0;
    if (sec->seccomp_len > 0 && !nnp && (rc = install_seccomp(sec)) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_SECCOMP, -rc, -1);

    /* The bounding set goes while we are still root with CAP_SETPCAP. */
    if ((rc = drop_bounding(sec)) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, -rc, ISOLATE_CAPS_BOUNDING);

    /* Raw system calls, not glibc's wrappers: those are "setxid" calls that take a
     * lock and signal every thread glibc believes exists - threads of the .NET
     * process this child was cloned from. A lock held at clone time never comes
     * free here, and the child hangs in a futex (seen under load). */
    if (!(sec->flags & ISOLATE_SECURITY_KEEP_GROUPS)
        && syscall(SYS_setgroups, (long)sec->group_count, (const gid_t *)sec->groups) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_USER, errno, ISOLATE_USER_GROUPS);
    if (syscall(SYS_setresgid, sec->gid, sec->gid, sec->gid) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_USER, errno, ISOLATE_USER_GID);
    /* From root to another user the kernel clears permitted and effective (no
     * KEEPCAPS): a non-root command starts with no capabilities, as under docker.
     * An OCI bundle says what each set holds, for any user: they are kept across the
     * change (KEEPCAPS, itself cleared by execve) and set below. */
    int oci_caps = (sec->flags & ISOLATE_SECURITY_OCI_CAPS) != 0;
    if (oci_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, errno, ISOLATE_CAPS_SET);
    if (syscall(SYS_setresuid, sec->uid, sec->uid, sec->uid) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_USER, errno, ISOLATE_USER_UID);
    isolate_child_rearm(sync_fd, outlives_parent); /* the kernel cleared PDEATHSIG if the ids changed */

    if ((sec->uid == 0 || oci_caps) && (rc = set_capabilities(sec)) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, -rc, ISOLATE_CAPS_SET);
    if (sec->uid != 0 && !oci_caps && (rc = clear_capabilities()) < 0) /* the inheritable set too */
        isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, -rc, ISOLATE_CAPS_SET);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, errno, ISOLATE_CAPS_AMBIENT);
    /* The kernel raises an ambient capability only if it is permitted and inheritable;
     * one that is not is left out, as runc does (its default spec lists ambient ones
     * with no inheritable set, which for root changes nothing). */
    uint64_t raisable = sec->cap_ambient & sec->cap_permitted & sec->cap_inheritable;
    for (int cap = 0; oci_caps && cap < 64; cap++) {
        if ((raisable >> cap) & 1 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) < 0)
            isolate_child_fail(sync_fd, ISOLATE_STEP_CAPS, errno, ISOLATE_CAPS_AMBIENT);
    }

    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_NO_NEW_PRIVS, errno, -1);
}

void isolate_apply_late_seccomp(const struct isolate_process_security *sec, int sync_fd)
{
    int rc;
    /* Last of all, so that nothing above has to be allowed by the filter. */
    if (sec->seccomp_len > 0 && (sec->flags & ISOLATE_SECURITY_NO_NEW_PRIVS) && (rc = install_seccomp(sec)) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_SECCOMP, -rc, -1);
}
