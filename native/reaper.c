/* reaper.c - removes a container's cgroup even when Isolate is killed with SIGKILL.
 *
 * A cgroup directory outlives every process in it: if Isolate dies before it can
 * rmdir the group, nothing else will. So before the group is made, Isolate clones
 * this small process (a copy of itself running only the code below) that blocks on
 * a pipe, in a session of its own (a terminal's or a process group's signals do
 * not reach it). It stays Isolate's child, which reaps it: an orphan would be left
 * to an init that may never reap (PID 1 of many containers does not). When Isolate has removed the group itself, it writes one
 * byte and the reaper leaves at once. When the pipe closes with nothing written -
 * Isolate died - the reaper kills whatever is still in the group (the container's
 * PID 1 already got SIGKILL from PDEATHSIG), in the groups the container made inside its
 * own too, removes the directories (those inner groups first), removes the container's
 * copy-on-write layer of --rootfs (nothing else would until the next run), and exits.
 *
 * In the binary, the reaper is the binary itself started afresh (vfork, then exec of
 * /proc/self/exe with ISOLATE_REAPER_ARG): native/early.c hands it to
 * isolate_shim_reaper_main before the .NET runtime starts. A fork of the .NET process would
 * cost the start twice over: copying its page tables (about 1 ms), then a copy-on-write
 * fault for every page Isolate writes afterwards, for as long as the reaper lives. Where
 * early.c is not linked (the shared library a test host loads) there is nothing to exec,
 * and the reaper is a fork of the caller as before; it then only makes system calls, as
 * the child does. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* native/early.c, linked into the binary only */
extern int isolate_shim_early __attribute__((weak));

struct reaper_args {
    const char *const *dirs;
    uint32_t count;
    uint32_t shared; /* dirs[0..shared) are parent levels other containers may share */
    const char *layer; /* the copy-on-write layer of --rootfs, or NULL */
    const char *net;   /* the container's network directory (--network bridge), or NULL */
    int read_fd;
    int write_fd;
};

static void nap_ms(long ms)
{
    struct timespec t = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
    nanosleep(&t, NULL);
}

/* Writes value to dir/name if that control file exists; errors do not matter here. */
static void write_file(const char *dir, const char *name, const char *value)
{
    char path[PATH_MAX];
    size_t dir_len = strlen(dir), name_len = strlen(name);
    if (dir_len + name_len + 1 > sizeof path)
        return;
    memcpy(path, dir, dir_len);
    memcpy(path + dir_len, name, name_len + 1);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = write(fd, value, strlen(value));
    (void)n;
    close(fd);
}

/* Kills every process listed in dir/cgroup.procs; returns how many were listed. */
static int kill_listed(const char *dir)
{
    static char buf[65536];
    char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len + sizeof "/cgroup.procs" > sizeof path)
        return 0;
    memcpy(path, dir, len);
    memcpy(path + len, "/cgroup.procs", sizeof "/cgroup.procs");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    int listed = 0;
    for (char *p = buf; *p != '\0';) {
        long pid = 0;
        while (*p >= '0' && *p <= '9')
            pid = pid * 10 + (*p++ - '0');
        if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
            listed++;
        }
        while (*p != '\0' && (*p < '0' || *p > '9'))
            p++;
    }
    return listed;
}

/* What getdents64(2) returns, one record after another. */
struct dir_record {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* The groups the container made inside its own (systemd as PID 1 makes init.scope, a
 * nested Isolate its own), deepest first: with remove, each is rmdir'd (a group with
 * children refuses rmdir, so its parent would stay); without, the processes each lists are
 * killed (cgroup.procs lists a group's own members only). path is a PATH_MAX buffer that
 * holds the group's directory; it is extended for each child and restored. Returns how
 * many processes were listed. */
static int walk_subgroups(char *path, size_t len, int depth, int remove)
{
    if (depth > 32)
        return 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int listed = 0;
    char buf[2048] __attribute__((aligned(8)));
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const struct dir_record *entry = (const struct dir_record *)(buf + off);
            off += entry->reclen;
            if (entry->type != DT_DIR || strcmp(entry->name, ".") == 0 || strcmp(entry->name, "..") == 0)
                continue;
            size_t name_len = strlen(entry->name);
            if (len + 1 + name_len + sizeof "/cgroup.procs" > PATH_MAX)
                continue;
            path[len] = '/';
            memcpy(path + len + 1, entry->name, name_len + 1);
            listed += walk_subgroups(path, len + 1 + name_len, depth + 1, remove);
            if (remove) {
                for (int round = 0; round < 200 && rmdir(path) < 0 && errno == EBUSY; round++)
                    nap_ms(10);
            } else
                listed += kill_listed(path);
            path[len] = '\0';
        }
    }
    close(fd);
    return listed;
}

/* walk_subgroups on one of the group's directories. */
static int walk_group(const char *dir, int remove)
{
    static char path[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof path)
        return 0;
    memcpy(path, dir, len + 1);
    return walk_subgroups(path, len, 0, remove);
}

static __attribute__((noreturn)) void reaper_run(const struct reaper_args *args)
{
    prctl(PR_SET_NAME, "isolate-reaper"); /* first: started from the binary, it is "exe" until now */
    /* Outlive the terminal: its signals (Ctrl-C reaches the whole foreground group)
     * must not stop the cleanup, and its own session takes it out of that group. */
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD)
            sigaction(sig, &ignore, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    /* keep nothing of Isolate's, stdio included: `$(isolate run ...)` must not wait for us */
    for (int fd = 0; fd < 3; fd++) {
        if (fd != args->read_fd)
            close(fd);
    }
    if (args->read_fd > 3)
        syscall(SYS_close_range, 3u, (unsigned)args->read_fd - 1u, 0u);
    syscall(SYS_close_range, (unsigned)args->read_fd + 1u, ~0u, 0u);

    char byte;
    ssize_t n;
    while ((n = read(args->read_fd, &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1)
        _exit(0); /* Isolate cleaned up itself */

    /* A frozen group (v1 freezer, v2 cgroup.freeze) would keep its processes from ever
     * dying of SIGKILL: thaw it first. On v2, cgroup.kill does the killing in one write. */
    for (uint32_t i = args->shared; i < args->count; i++) {
        write_file(args->dirs[i], "/freezer.state", "THAWED");
        write_file(args->dirs[i], "/cgroup.freeze", "0");
        write_file(args->dirs[i], "/cgroup.kill", "1");
    }
    for (int round = 0; round < 500; round++) { /* ~5 s: the dying get that long */
        int listed = 0;
        for (uint32_t i = args->shared; i < args->count; i++)
            listed += kill_listed(args->dirs[i]) + walk_group(args->dirs[i], 0);
        if (listed == 0)
            break;
        nap_ms(10);
    }
    for (uint32_t i = args->count; i-- > args->shared;) {
        walk_group(args->dirs[i], 1);
        for (int round = 0; round < 200 && rmdir(args->dirs[i]) < 0 && errno == EBUSY; round++)
            nap_ms(10);
    }
    /* the shared parent levels: busy means another container uses them, and that is fine */
    for (uint32_t i = args->shared; i-- > 0;)
        rmdir(args->dirs[i]);
    /* the container is gone, and its mount namespace with it: its writes go too, and the
     * layer root if this was the last layer in it */
    if (args->layer != NULL && isolate_shim_remove_tree(args->layer) == 0) {
        static char root[PATH_MAX];
        size_t len = strlen(args->layer);
        if (len < sizeof root) {
            memcpy(root, args->layer, len + 1);
            char *slash = strrchr(root, '/');
            if (slash != NULL && slash != root) {
                *slash = '\0';
                rmdir(root);
            }
        }
    }
    /* its network: the veth went with its namespace; the NAT table, the lease and the
     * network directory go here (native/netlink.c) */
    if (args->net != NULL)
        isolate_net_release(args->net, 1);
    _exit(0);
}

/* The forked reaper (no early.c): a copy of the caller. */
static int reaper_forked(void *arg)
{
    const struct reaper_args *args = arg;
    close(args->write_fd);
    reaper_run(args);
}

/* The reaper started from the binary: argv is the binary's name, ISOLATE_REAPER_ARG, the
 * pipe's read end, how many leading directories are shared parent levels, the layer ("" for
 * none), the network directory ("" for none), then the directories. Anything else, or a read end that is not a pipe (someone
 * typed the argument), and it exits 125 having touched nothing. */
void isolate_shim_reaper_main(int argc, char **argv)
{
    if (argc < 6)
        _exit(125);
    char *fd_end, *shared_end;
    long fd = strtol(argv[2], &fd_end, 10);
    long shared = strtol(argv[3], &shared_end, 10);
    struct stat st;
    if (*fd_end != '\0' || *shared_end != '\0' || fd < 3 || fd > INT_MAX || shared < 0 || shared > argc - 6
        || fstat((int)fd, &st) < 0 || !S_ISFIFO(st.st_mode))
        _exit(125);
    struct reaper_args args = {
        .dirs = (const char *const *)(argv + 6),
        .count = (uint32_t)(argc - 6),
        .shared = (uint32_t)shared,
        .layer = argv[4][0] != '\0' ? argv[4] : NULL,
        .net = argv[5][0] != '\0' ? argv[5] : NULL,
        .read_fd = (int)fd,
        .write_fd = -1,
    };
    reaper_run(&args);
}

/* The vfork child on its way to exec: it shares the caller's memory (the caller waits until
 * the exec), so it only makes system calls and writes one result word. */
struct reaper_exec {
    char *const *argv;
    int read_fd;
    volatile int failed; /* the exec's errno, read by the caller after the vfork */
};

static int reaper_exec_child(void *arg)
{
    struct reaper_exec *exec = arg;
    static char *const no_environment[] = { NULL };
    /* the read end crosses the exec; everything else of Isolate's is close-on-exec */
    if (fcntl(exec->read_fd, F_SETFD, 0) < 0) {
        exec->failed = errno;
        _exit(125);
    }
    execve("/proc/self/exe", exec->argv, no_environment);
    exec->failed = errno;
    _exit(125);
}

#define REAPER_EXEC_MAX_DIRS 64

/* Starts the reaper from the binary (vfork + exec); -errno when it cannot be started. */
static pid_t reaper_exec(const char *const *dirs, uint32_t count, uint32_t shared, const char *layer, const char *net, int read_fd)
{
    char fd_text[24], shared_text[24];
    isolate_decimal(fd_text, (unsigned long)read_fd);
    isolate_decimal(shared_text, shared);
    char *argv[6 + REAPER_EXEC_MAX_DIRS + 1];
    argv[0] = "isolate-reaper";
    argv[1] = ISOLATE_REAPER_ARG;
    argv[2] = fd_text;
    argv[3] = shared_text;
    argv[4] = (char *)(layer != NULL ? layer : "");
    argv[5] = (char *)(net != NULL ? net : "");
    for (uint32_t i = 0; i < count; i++)
        argv[6 + i] = (char *)dirs[i];
    argv[6 + count] = NULL;
    struct reaper_exec exec = { .argv = argv, .read_fd = read_fd, .failed = 0 };
    pid_t pid = isolate_clone(reaper_exec_child, &exec, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    if (pid < 0)
        return pid;
    if (exec.failed != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return -exec.failed;
    }
    return pid;
}

int isolate_shim_spawn_reaper(const char *const *dirs, uint32_t count, uint32_t shared, const char *layer, const char *net,
                              int32_t *write_fd)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return -errno;
    struct reaper_args args = { .dirs = dirs, .count = count, .shared = shared, .layer = layer, .net = net, .read_fd = pipe_fds[0], .write_fd = pipe_fds[1] };
    /* the binary started afresh; where that cannot be (no early.c, no /proc), a fork */
    pid_t pid = &isolate_shim_early != NULL && count <= REAPER_EXEC_MAX_DIRS
        ? reaper_exec(dirs, count, shared, layer, net, pipe_fds[0]) : -ENOEXEC;
    if (pid < 0)
        pid = isolate_clone(reaper_forked, &args, SIGCHLD, NULL);
    close(pipe_fds[0]);
    if (pid < 0) {
        close(pipe_fds[1]);
        return pid;
    }
    *write_fd = pipe_fds[1];
    return pid;
}
