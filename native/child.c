/* child.c - everything the container's PID 1 does between clone() and execve().
 *
 * Only system calls and pure functions (memcpy, strlen) from here on: this is one
 * thread copied out of a multithreaded .NET process, and any lock another thread
 * held (malloc, stdio, the GC) is held forever. Every failure goes through
 * isolate_child_fail() (error.c), which reports {step, errno, index} and exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "internal.h"

#define DEFAULT_SEARCH_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Set once a detached child has reported CREATED: `create` is gone, nothing reads the
 * sync socket, and the parent it has now (a subreaper such as conmon) must not kill it. */
static int detached;

/* Until execve, PID 1 is the shim. A forwarded signal must stop it whenever it
 * lands: with SIG_DFL the kernel would drop it (a namespace's init ignores
 * default-action signals), so the shim catches them and exits 128+N. execve
 * itself resets caught signals to SIG_DFL, so no window is left open. */
static void exit_on_signal(int sig)
{
    _exit(128 + sig);
}

/* The .NET runtime's handlers (and its SIG_IGN for SIGPIPE) must not survive
 * into the container: ignored signals stay ignored across execve. Signals stay
 * blocked (as spawn.c left them) until every handler is in place. */
static void reset_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        action.sa_handler = isolate_signal_is_forwarded(sig) ? exit_on_signal : SIG_DFL;
        sigaction(sig, &action, NULL); /* glibc's reserved signals fail with EINVAL: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* sync 1: nothing of the user's runs before the parent has placed us. The GO
 * message may carry a detached mount tree (an id-mapped rootfs) for capture slot
 * *slot; *tree_fd is -1 otherwise. */
static void wait_at_gate(int sync_fd, int *tree_fd, int32_t *slot, uint32_t *trees_following)
{
    struct isolate_msg msg;
    ssize_t n = isolate_msg_recv(sync_fd, &msg, tree_fd);
    if (n != (ssize_t)sizeof msg || msg.type != ISOLATE_MSG_GO)
        _exit(ISOLATE_EXIT_SETUP_FAILED); /* EOF: the parent is gone, and so are we */
    *slot = *tree_fd >= 0 ? msg.detail : -1;
    *trees_following = msg.step;
}

/* Capture slots the parent filled (bind sources it opened with its own rights); -1 elsewhere. */
static int parent_trees[ISOLATE_MAX_CAPTURES];

/* The TREE messages after GO, taken once inherited fds are closed (they would go too). */
static void receive_trees(int sync_fd, uint32_t count)
{
    for (int i = 0; i < ISOLATE_MAX_CAPTURES; i++)
        parent_trees[i] = -1;
    for (uint32_t i = 0; i < count; i++) {
        struct isolate_msg msg;
        int tree;
        ssize_t n = isolate_msg_recv(sync_fd, &msg, &tree);
        if (n != (ssize_t)sizeof msg || msg.type != ISOLATE_MSG_TREE || tree < 0)
            _exit(ISOLATE_EXIT_SETUP_FAILED);
        if (msg.detail < 0 || msg.detail >= ISOLATE_MAX_CAPTURES || parent_trees[msg.detail] >= 0)
            close(tree);
        else
            parent_trees[msg.detail] = tree;
    }
}

/* In a new user namespace the child starts as the overflow user (its host uid is
 * not mapped, unless rootless); once the parent has written the maps it becomes
 * the namespace's root, so what it creates while setting up is root's inside.
 * Raw system calls (see security.c). */
static int become_userns_root(const struct isolate_spawn_config *config, int32_t *detail)
{
    *detail = ISOLATE_USER_GID;
    if (syscall(SYS_setresgid, 0, 0, 0) < 0)
        return -errno;
    *detail = ISOLATE_USER_GROUPS;
    if (!(config->security.flags & ISOLATE_SECURITY_KEEP_GROUPS) && syscall(SYS_setgroups, 0L, NULL) < 0)
        return -errno;
    *detail = ISOLATE_USER_UID;
    if (syscall(SYS_setresuid, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

static int bring_up_loopback(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
    int err = rc < 0 ? -errno : 0;
    close(sock);
    return err;
}

/* Enters the working directory; on failure returns -errno and sets *detail. */
static int enter_workdir(const char *workdir, int may_create, int32_t *detail)
{
    *detail = ISOLATE_WORKDIR_ENTER;
    if (chdir(workdir) < 0) {
        /* docker and runc create a missing working directory for a new container; a
         * command exec'd into a running one needs its directory to exist (runc) */
        if (errno != ENOENT || !may_create)
            return -errno;
        *detail = ISOLATE_WORKDIR_CREATE;
        int rc = isolate_mkdir_p(workdir, 0755);
        if (rc < 0)
            return rc;
        *detail = ISOLATE_WORKDIR_ENTER;
        if (chdir(workdir) < 0)
            return -errno;
    }
    /* A magic link (/proc/self/fd/N, where N is a directory fd on the host, even
     * stdin) leads out of the root without any path. The old root is detached, so
     * the kernel's getcwd marks such a directory "(unreachable)" instead of
     * starting it with '/' (CVE-2024-21626). */
    char cwd[PATH_MAX];
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0 || cwd[0] != '/') {
        *detail = ISOLATE_WORKDIR_OUTSIDE_ROOT;
        return -EPERM;
    }
    return 0;
}

/* Only stdio, and the fds the caller passes on purpose (--preserve-fds N: 3 .. 3+N-1),
 * may reach the container: a leaked runtime fd plus a workdir of /proc/self/fd/N is a
 * way out of the root (CVE-2024-21626). They are closed for real, not marked
 * close-on-exec, before any path is resolved; only the sync socket stays, until
 * execve closes it. */
static int close_range_except(unsigned first, int keep_a, int keep_b)
{
    /* the kept fds, in order, each above first or ignored */
    unsigned keep[2] = { (unsigned)keep_a, (unsigned)keep_b };
    if (keep_b < keep_a) {
        keep[0] = (unsigned)keep_b;
        keep[1] = (unsigned)keep_a;
    }
    unsigned from = first;
    for (int i = 0; i < 2; i++) {
        if ((int)keep[i] < 0 || keep[i] < from)
            continue;
        if (keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1u, 0u) < 0)
            return -errno;
        from = keep[i] + 1u;
    }
    return syscall(SYS_close_range, from, ~0u, 0u) < 0 ? -errno : 0;
}

static int close_inherited_fds(int keep, int keep_too, uint32_t preserve)
{
    unsigned first = 3u + preserve; /* the first fd that goes */
    for (unsigned fd = 3; fd < first; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && (int)fd != keep && (int)fd != keep_too)
            fcntl((int)fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    int rc = close_range_except(first, keep, keep_too);
    if (rc != -ENOSYS)
        return rc;
    struct rlimit lim; /* kernels before 5.9 */
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        return -errno;
    for (rlim_t fd = first; fd < lim.rlim_cur; fd++) {
        if ((int)fd != keep && (int)fd != keep_too)
            close((int)fd);
    }
    return 0;
}

/* A caller that closed stdin (`<&-`) leaves fd 0 to whatever the .NET runtime
 * opened next, close-on-exec: the command would start without it. Such slots get
 * /dev/null, as docker gives them. (spawn.c keeps the sync socket above 2.)
 * A directory (or an O_PATH fd) as stdio would hand the container a way out of
 * its root (`cd /proc/self/fd/0/..`): refused, *bad_fd names it. */
static int ensure_stdio(int *bad_fd)
{
    for (int fd = 0; fd <= 2; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            struct stat st;
            int status = fcntl(fd, F_GETFL);
            if ((status >= 0 && (status & O_PATH)) || (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))) {
                *bad_fd = fd;
                return -EISDIR;
            }
            continue;
        }
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd < 0)
            return -errno;
        if (null_fd != fd) {
            int rc = dup2(null_fd, fd);
            close(null_fd);
            if (rc < 0)
                return -errno;
        }
    }
    return 0;
}

/* ENOENT from execve means either "no such file" or "its interpreter (#!) or
 * dynamic loader is missing"; the user needs to know which. */
static int32_t exec_detail(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? ISOLATE_EXEC_FOUND : ISOLATE_EXEC_NOT_FOUND;
}

/* CVE-2019-5736 (a "#!/proc/self/exe" command runs Isolate's binary inside the container)
 * is not checked here: a check of the path before execve races a container that swaps
 * the path in between. Instead the process that gets here runs from a copy of the binary
 * that nothing can open for writing (native/selfexe.c), whatever the kernel then runs. */

/* One entry of the container's PATH, dir[0..dir_len), joined with file into out (an empty
 * entry means the working directory). 0 when it does not fit. */
static int path_entry(const char *dir, size_t dir_len, const char *file, size_t file_len, char *out, size_t size)
{
    if (dir_len == 0) {
        dir = ".";
        dir_len = 1;
    }
    if (dir_len + 1 + file_len + 1 > size)
        return 0;
    memcpy(out, dir, dir_len);
    out[dir_len] = '/';
    memcpy(out + dir_len + 1, file, file_len + 1);
    return 1;
}

/* The one PATH walk, for execve and for the create-time lookup alike (execvpe() may
 * allocate; this runs on the stack): try_entry(candidate, ctx) for file in each entry of the
 * container's PATH, in order, until it returns non-zero, which is returned; 0 when every
 * entry was tried. An entry too long to join is skipped. */
static int walk_search_path(const struct isolate_spawn_config *config, const char *file,
                            int (*try_entry)(const char *candidate, void *ctx), void *ctx)
{
    const char *dirs = config->search_path != NULL ? config->search_path : DEFAULT_SEARCH_PATH;
    size_t file_len = strlen(file);
    char candidate[PATH_MAX];
    for (const char *dir = dirs;; dir++) {
        const char *end = strchrnul(dir, ':');
        int rc;
        if (path_entry(dir, (size_t)(end - dir), file, file_len, candidate, sizeof candidate)
            && (rc = try_entry(candidate, ctx)) != 0)
            return rc;
        if (*end == '\0')
            return 0;
        dir = end;
    }
}

struct exec_attempt {
    char *const *argv;
    char *const *envp;
    int sync_fd;
    int denied; /* an entry held the file, but not executable by us: EACCES, unless a later one is */
};

/* One PATH entry for execve: returns only to go on to the next entry. */
static int try_exec(const char *candidate, void *ctx)
{
    struct exec_attempt *attempt = ctx;
    execve(candidate, attempt->argv, attempt->envp);
    int err = errno;
    if (err == ENOENT && exec_detail(candidate) == ISOLATE_EXEC_FOUND)
        isolate_child_fail(attempt->sync_fd, ISOLATE_STEP_EXEC, err, ISOLATE_EXEC_FOUND);
    switch (err) {
    case EACCES:
        attempt->denied = 1;
        break;
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
        break;
    default:
        isolate_child_fail(attempt->sync_fd, ISOLATE_STEP_EXEC, err, -1);
    }
    return 0;
}

/* ISOLATE_SPAWN_EXEC_FD: the program the parent opened (the GO message's fd). */
static int exec_fd = -1;

__attribute__((noreturn)) static void exec_command(const struct isolate_spawn_config *config, int sync_fd)
{
    char *const *argv = (char *const *)config->argv;
    char *const *envp = (char *const *)config->envp;
    const char *file = argv[0];
    if (config->flags & ISOLATE_SPAWN_EXEC_FD) {
        /* not close-on-exec: a #! script's interpreter opens it as /dev/fd/N */
        fcntl(exec_fd, F_SETFD, 0);
        syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
        isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, errno, -1);
    }
    if (strchr(file, '/') != NULL) {
        execve(file, argv, envp);
        int err = errno;
        isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, err, err == ENOENT ? exec_detail(file) : -1);
    }

    struct exec_attempt attempt = { .argv = argv, .envp = envp, .sync_fd = sync_fd, .denied = 0 };
    walk_search_path(config, file, try_exec, &attempt);
    isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC, attempt.denied ? EACCES : ENOENT, ISOLATE_EXEC_NOT_FOUND);
}

/* One PATH entry for the lookup: 1 when it holds an executable regular file. */
static int try_lookup(const char *candidate, void *ctx)
{
    int *denied = ctx;
    struct stat st;
    if (stat(candidate, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    if (access(candidate, X_OK) == 0)
        return 1;
    *denied = 1;
    return 0;
}

/* Detached: the command must exist before `create` reports success (as runc checks),
 * since an exec failure after `start` has nobody to tell but the container's stderr.
 * The same PATH walk as exec_command, with access(X_OK) in place of execve. */
static int lookup_command(const struct isolate_spawn_config *config, int32_t *detail)
{
    const char *file = config->argv[0];
    *detail = ISOLATE_EXEC_NOT_FOUND;
    if (strchr(file, '/') != NULL) {
        if (access(file, X_OK) == 0)
            return 0;
        int err = errno;
        *detail = err == ENOENT ? exec_detail(file) : -1;
        return -err;
    }
    int denied = 0;
    if (walk_search_path(config, file, try_lookup, &denied))
        return 0;
    return denied ? -EACCES : -ENOENT;
}

/* Detached: report CREATED and wait for `start`. PDEATHSIG goes first: `create` exits as
 * soon as it reads CREATED. From then on failures go to the status FIFO, which `start`
 * reads (or, without one, to the container's stderr). */
static void wait_for_start(int *sync_fd, int fifo_fd, int status_fd, int parent_stays)
{
    if (!parent_stays) {
        prctl(PR_SET_PDEATHSIG, 0);
        detached = 1;
    }
    struct isolate_msg created = { .type = ISOLATE_MSG_CREATED };
    if (isolate_msg_send(*sync_fd, &created, -1) < 0)
        _exit(ISOLATE_EXIT_SETUP_FAILED); /* `create` died: nobody knows of us */
    close(*sync_fd);
    *sync_fd = status_fd;
    char byte;
    ssize_t n;
    do {
        n = read(fifo_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(ISOLATE_EXIT_SETUP_FAILED);
    close(fifo_fd);
}

/* exec: the namespaces are joined, but setns(CLONE_NEWPID) moves only children. The command
 * is forked with CLONE_PARENT: in the container's PID namespace, and the caller's own child
 * (it waits for it, or, detached, leaves it to a subreaper). We report its PID and go; it
 * goes on with the remaining steps. A raw clone: glibc's fork runs atfork handlers. */
static void fork_into_container(const struct isolate_spawn_config *config, int sync_fd)
{
    long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
    if (pid < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_EXEC_INTO, errno, -1);
    if (pid > 0) {
        isolate_child_note(sync_fd, ISOLATE_NOTE_EXEC_PID, 0, (int32_t)pid);
        _exit(0);
    }
    if (config->flags & ISOLATE_SPAWN_NO_PDEATHSIG)
        detached = 1;
    else
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a fork does not inherit it */
    prctl(PR_SET_DUMPABLE, 0);
}

static int write_sysctl(const struct isolate_sysctl *sysctl)
{
    int f = open(sysctl->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (f < 0)
        return -errno;
    size_t len = strlen(sysctl->value);
    ssize_t n = write(f, sysctl->value, len);
    int err = n < 0 ? errno : (size_t)n == len ? 0 : EIO;
    close(f);
    return -err;
}

/* --ulimit, as prlimit64(2) on ourselves: the command inherits them. */
static int apply_rlimits(const struct isolate_spawn_config *config, int32_t *detail)
{
    for (uint32_t i = 0; i < config->rlimit_count; i++) {
        const struct isolate_rlimit *r = &config->rlimits[i];
        uint64_t limit[2] = { r->soft, r->hard };
        *detail = (int32_t)i;
        if (syscall(SYS_prlimit64, 0, r->resource, limit, NULL) < 0)
            return -errno;
    }
    return 0;
}

/* The kernel's struct sched_attr (SCHED_ATTR_SIZE_VER0); glibc has no wrapper. */
struct sched_attr_v0 {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

#define IOPRIO_WHO_PROCESS 1

/* OCI process.user.umask, ioPriority and scheduler: set on ourselves once the mount plan
 * is done (the mount points it made keep the 022 they were made with); the command
 * inherits them across execve. Before the detached wait, so that `create` reports a
 * refusal (an RT class or policy without CAP_SYS_NICE). */
static void apply_process_settings(const struct isolate_spawn_config *config, int sync_fd)
{
    umask((mode_t)(config->umask & 0777));
    if (config->io_priority >= 0 && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, config->io_priority) < 0)
        isolate_child_fail(sync_fd, ISOLATE_STEP_IO_PRIORITY, errno, -1);
    if (config->flags & ISOLATE_SPAWN_SCHEDULER) {
        struct sched_attr_v0 attr = {
            .size = sizeof attr,
            .sched_policy = config->sched_policy,
            .sched_flags = config->sched_flags,
            .sched_nice = config->sched_nice,
            .sched_priority = config->sched_priority,
            .sched_runtime = config->sched_runtime,
            .sched_deadline = config->sched_deadline,
            .sched_period = config->sched_period,
        };
        if (syscall(SYS_sched_setattr, 0, &attr, 0u) < 0)
            isolate_child_fail(sync_fd, ISOLATE_STEP_SCHEDULER, errno, -1);
    }
}

int isolate_child_main(void *arg)
{
    const struct isolate_child_args *args = arg;
    const struct isolate_spawn_config *config = args->config;
    int fd = args->sync_fd;
    int rc;

    close(args->parent_fd);
    reset_signals();
    /* If Isolate dies, so does the container: nothing is left running in
     * orphaned namespaces. Set from the spawning (main) thread's child. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Nothing inside may ptrace or read the setup steps; execve resets it. With a
     * user namespace not yet: a non-dumpable process's /proc files belong to root,
     * and a non-root parent could not write its id maps. Nothing of the container's
     * runs before the gate, and isolate_child_rearm() makes it non-dumpable after. */
    if (!(config->flags & ISOLATE_SPAWN_USERNS))
        prctl(PR_SET_DUMPABLE, 0);

    int tree_fd;
    int32_t tree_slot, detail = -1;
    uint32_t trees_following;
    wait_at_gate(fd, &tree_fd, &tree_slot, &trees_following); /* sync 1 */
    exec_fd = tree_fd;

    int bad_fd = -1;
    if ((rc = close_inherited_fds(fd, tree_fd, config->security.preserve_fds)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_CLOSE_FDS, -rc, -1);
    if ((rc = ensure_stdio(&bad_fd)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_STDIO, -rc, bad_fd);
    receive_trees(fd, trees_following); /* above stdio, which ensure_stdio has filled */
    /* Detached: the FIFO `start` writes to, opened while host paths still resolve.
     * O_RDWR: we hold a writer ourselves, so read() waits for `start`'s byte rather
     * than seeing end-of-file, and `start` finds a reader (no ENXIO) while we live. */
    int fifo_fd = -1, status_fd = -1;
    if ((config->flags & ISOLATE_SPAWN_DETACHED)
        && (fifo_fd = open(config->exec_fifo, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_EXEC_FIFO, errno, -1);
    /* O_RDWR as well: writing a report never blocks on a reader, and `start`'s read sees
     * end-of-file only once this close-on-exec fd is gone (execve, or exit) */
    if ((config->flags & ISOLATE_SPAWN_DETACHED) && config->exec_status != NULL
        && (status_fd = open(config->exec_status, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_EXEC_FIFO, errno, -1);
    if (config->flags & ISOLATE_SPAWN_USERNS) {
        if ((rc = become_userns_root(config, &detail)) < 0)
            isolate_child_fail(fd, ISOLATE_STEP_USERNS, -rc, detail);
        isolate_child_rearm(fd, detached);
    }
    for (uint32_t i = 0; i < config->ns_join_count; i++) {
        if (isolate_joined_by_parent(config, i))
            continue; /* spawn.c joined it before the clone: we started in it */
        int ns = open(config->ns_joins[i].path, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
            isolate_child_fail(fd, ISOLATE_STEP_JOIN_NS, errno, (int32_t)i);
        if (setns(ns, (int)config->ns_joins[i].nstype) < 0)
            isolate_child_fail(fd, ISOLATE_STEP_JOIN_NS, errno, (int32_t)i);
        close(ns);
    }
    if (config->flags & ISOLATE_SPAWN_EXEC_INTO)
        fork_into_container(config, fd);
    for (uint32_t i = 0; i < config->sysctl_count; i++) {
        if ((rc = write_sysctl(&config->sysctls[i])) < 0)
            isolate_child_fail(fd, ISOLATE_STEP_SYSCTL, -rc, (int32_t)i);
    }
    if ((config->flags & ISOLATE_SPAWN_NEW_CGROUPNS) && unshare(CLONE_NEWCGROUP) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_CGROUPNS, errno, -1);
    /* docker's umask: created mount points and the command's files do not take
     * whatever mask the caller had */
    umask(022);
    /* Its own session: no TIOCSTI into the caller's terminal (CVE-2017-5226). */
    if (setsid() < 0)
        isolate_child_fail(fd, ISOLATE_STEP_SETSID, errno, -1);
    if (config->hostname != NULL && sethostname(config->hostname, strlen(config->hostname)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_HOSTNAME, errno, -1);
    if (config->domainname != NULL && setdomainname(config->domainname, strlen(config->domainname)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_DOMAINNAME, errno, -1);
    if ((config->flags & ISOLATE_SPAWN_LOOPBACK_UP) && (rc = bring_up_loopback()) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_LOOPBACK, -rc, -1);

    if ((config->flags & ISOLATE_SPAWN_EXEC_FD))
        tree_fd = -1; /* the GO message's fd is the program to execute, not a mount tree */
    if ((rc = isolate_run_mount_ops(config->mount_ops, config->mount_op_count, fd, tree_fd, tree_slot, parent_trees, &detail)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_MOUNT_OP, -rc, detail);
    if (config->workdir != NULL && (rc = enter_workdir(config->workdir, !(config->flags & ISOLATE_SPAWN_EXEC_INTO), &detail)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_WORKDIR, -rc, detail);

    if ((config->flags & ISOLATE_SPAWN_TTY) && (rc = isolate_child_pty(config, fd, &detail)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_TTY, -rc, detail);
    if ((rc = apply_rlimits(config, &detail)) < 0)
        isolate_child_fail(fd, ISOLATE_STEP_RLIMIT, -rc, detail);
    apply_process_settings(config, fd);

    if (config->flags & ISOLATE_SPAWN_DETACHED) {
        if ((rc = lookup_command(config, &detail)) < 0)
            isolate_child_fail(fd, ISOLATE_STEP_EXEC, -rc, detail);
        /* as runc: user, capabilities and no_new_privs before CREATED, so that `create`
         * fails when they cannot be applied; only a no_new_privs filter waits */
        isolate_apply_credentials(&config->security, fd, 0);
        isolate_child_report_on_stderr(config->argv[0]);
        wait_for_start(&fd, fifo_fd, status_fd, (config->flags & ISOLATE_SPAWN_HELD_BY_PARENT) != 0);
        isolate_apply_late_seccomp(&config->security, fd);
    } else
        isolate_apply_security(&config->security, fd, detached);
    if (config->flags & ISOLATE_SPAWN_INIT)
        isolate_child_init(config, fd, exec_command);
    exec_command(config, fd); /* sync 2: success closes fd */
}
