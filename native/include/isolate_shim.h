/*
 * isolate_shim.h - the ABI between Isolate's C# front end and its C shim.
 *
 * Why a shim at all: after clone() the child holds one thread of a multithreaded
 * .NET process. Any lock another thread held (malloc, the GC, stdio) stays locked
 * forever in the child, so from clone() to execve() the child runs only the code in
 * native/, and that code only makes system calls. C# prepares every string, array
 * and mount operation before the clone, as the flat data described below; the
 * child reads its copy-on-write copy of it.
 *
 * The protocol over the sync socket (SOCK_SEQPACKET, both ends close-on-exec):
 *
 *   parent (C#, Runtime/ContainerRunner.cs)     child (native/child.c)
 *   ---------------------------------------      ------------------------------------
 *   isolate_shim_forward_signals()  (handlers hold signals until a pid is known)
 *   isolate_shim_spawn():
 *     socketpair, mmap stack + guard page,
 *     clone(CLONE_NEW*|CLONE_PIDFD)        ---->  close parent end, reset signals
 *                                                 (forwarded ones: exit 128+N),
 *                                                 PDEATHSIG=SIGKILL, not dumpable
 *   isolate_shim_forward_to(pid, pidfd)           sync 1: block reading the gate
 *     (from here on TERM, INT, ... reach PID 1)
 *   (place the child: cgroup; with a user
 *    namespace write its uid_map and gid_map,
 *    and id-map the rootfs: a detached tree)
 *   isolate_shim_release()   GO [+ tree fd] -->   (EOF: the parent died -> _exit)
 *                                                 close inherited fds; in a user
 *                                                 namespace become its root and
 *                                                 re-arm PDEATHSIG; cgroupns,
 *                                                 setsid,
 *                                                 hostname, loopback, mount plan
 *                                                 (ends in pivot_root), workdir
 *                                                 (checked inside the root), execve
 *   isolate_shim_await_exec()  sync 2:
 *     EOF (socket closed by execve)  <-----       exec succeeded
 *     NOTE {note, errno, detail}     <-----       (any number, before EOF or FAILED)
 *     FAILED {step, errno, detail}   <-----       a step failed; child _exit()s
 *   isolate_shim_forward_exec_done()  (re-delivers a signal execve swallowed)
 *   waitid(WNOWAIT), forward_stop(), waitpid() -> the command's status
 *
 * The child never prints: C# turns a FAILED message into the one-line error,
 * because C# still holds the data (paths, fstypes) that `detail` points into.
 */
#ifndef ISOLATE_SHIM_H
#define ISOLATE_SHIM_H

#include <stdint.h>

#define ISOLATE_SHIM_ABI_VERSION 8u

/* One operation of the mount plan. Built by src/Isolate.Core/Plan, executed by
 * native/mounts.c in order, with one switch. A target is a host path (absolute,
 * as the child sees it when the operation runs), or with ISOLATE_OP_IN_ROOT a path
 * inside the container's root, resolved there safely (native/resolve.c). */
enum isolate_mount_kind {
    ISOLATE_MOUNT_MAKE_PRIVATE = 1, /* target: MS_REC|MS_PRIVATE, nothing leaks to the host    */
    ISOLATE_MOUNT_BIND = 2,         /* source onto target; flags: MS_REC, MS_RDONLY (read-only,
                                       recursively, after the bind)                            */
    ISOLATE_MOUNT_FILESYSTEM = 3,   /* mount(source, target, fstype, flags, data)               */
    ISOLATE_MOUNT_READONLY = 4,     /* the mount at target becomes read-only (with
                                       ISOLATE_OP_RECURSIVE: every mount below it too)          */
    ISOLATE_MOUNT_MKDIR = 5,        /* mkdir -p target (a host path), mode                      */
    ISOLATE_MOUNT_MKNOD = 6,        /* device node target (mode, dev); if mknod is not allowed,
                                       bind the host's node named by source instead           */
    ISOLATE_MOUNT_SYMLINK = 7,      /* symlink target -> source                                 */
    ISOLATE_MOUNT_PIVOT_ROOT = 8,   /* the open root becomes /, the old root is detached; where
                                       pivot_root cannot (initramfs), move + chroot, with a NOTE */
    ISOLATE_MOUNT_OPEN_ROOT = 9,    /* target (a host path, a mount) is the root from now on    */
    ISOLATE_MOUNT_MASK = 10,        /* hide target: a directory under an empty read-only tmpfs,
                                       a file under /dev/null                                    */
    ISOLATE_MOUNT_READONLY_PATH = 11,/* bind target onto itself, read-only                      */
    ISOLATE_MOUNT_CAPTURE = 12,     /* take a detached copy of the host tree at source (open_tree)
                                       into capture slot `slot`, read-only already if flags has
                                       MS_RDONLY; BIND ops name the slot. Runs before anything is
                                       staged, so no staging mount can cover the source.       */
    ISOLATE_MOUNT_REMOUNT = 13,     /* the mount at target: MS_BIND|MS_REMOUNT|flags (a bind's
                                       nosuid, nodev, noexec, ro, atime); flags the mount is
                                       locked with are kept where the kernel insists (EPERM)   */
    ISOLATE_MOUNT_PROPAGATION = 14, /* the mount at target: mount(NULL, target, NULL, flags) with
                                       flags MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE
                                       (and MS_REC)                                            */
    ISOLATE_MOUNT_WRITE_FILE = 15,  /* a file made (or replaced) at target in the root, mode, holding
                                       the `dev` bytes at data (a GPU library's ld.so cache)   */
};

/* isolate_mount_op.options */
enum isolate_op_options {
    ISOLATE_OP_IN_ROOT = 1u << 0,     /* target is inside the open root                         */
    ISOLATE_OP_NO_SYMLINKS = 1u << 1, /* no symlink anywhere in target (procfs, sysfs)          */
    ISOLATE_OP_CREATE_DIR = 1u << 2,  /* create target (and parents) as directories if missing  */
    ISOLATE_OP_CREATE_FILE = 1u << 3, /* create target as an empty file (parents as dirs)       */
    ISOLATE_OP_RECURSIVE = 1u << 4,   /* READONLY: the whole tree; fail where the kernel cannot */
    ISOLATE_OP_OPTIONAL = 1u << 5,    /* a missing target is skipped, not an error             */
    ISOLATE_OP_KEEP_EXISTING = 1u << 6,/* MKNOD, SYMLINK: a name that exists is left as it is  */
    ISOLATE_OP_REPLACE = 1u << 7,     /* SYMLINK: what is at the name is removed first          */
    ISOLATE_OP_KEEP_MODE = 1u << 8,   /* FILESYSTEM (tmpfs): the mount's root takes the mode the
                                         target directory had (mode= appended to data), unless
                                         data has mode= or the target was created for it       */
    ISOLATE_OP_CHOWN = 1u << 9,       /* MKNOD: a node made by mknod gets owner uid:gid          */
    ISOLATE_OP_COPY_UP = 1u << 10,    /* FILESYSTEM (tmpfs): what the target directory held
                                         before the mount is copied into the new mount (files,
                                         directories, symlinks, with modes and owners)         */
};

#define ISOLATE_MAX_CAPTURES 64

struct isolate_mount_op {
    uint32_t kind;
    uint32_t flags;   /* MS_* flags for BIND and FILESYSTEM */
    uint32_t mode;    /* MKDIR, MKNOD, and created targets */
    uint32_t options; /* isolate_op_options */
    uint64_t dev;     /* MKNOD: makedev(major, minor) */
    int32_t slot;     /* CAPTURE, BIND: the capture slot, or -1 */
    uint32_t reserved;
    const char *source;
    const char *target;
    const char *fstype;
    const char *data;
    uint32_t uid;     /* MKNOD with ISOLATE_OP_CHOWN: the node's owner */
    uint32_t gid;
};

/* Steps the child reports in a FAILED message. Values are ABI. */
enum isolate_step {
    ISOLATE_STEP_SETSID = 2,
    ISOLATE_STEP_HOSTNAME = 3,
    ISOLATE_STEP_LOOPBACK = 4,
    ISOLATE_STEP_MOUNT_OP = 5, /* detail: the op's index */
    ISOLATE_STEP_WORKDIR = 6,  /* detail: isolate_workdir_detail */
    ISOLATE_STEP_CLOSE_FDS = 7,
    ISOLATE_STEP_EXEC = 8,     /* detail: isolate_exec_detail */
    ISOLATE_STEP_STDIO = 9,    /* detail: the fd (0, 1, 2) that is a directory or an O_PATH fd */
    ISOLATE_STEP_CGROUPNS = 10,
    ISOLATE_STEP_CAPS = 11,    /* detail: isolate_caps_detail */
    ISOLATE_STEP_USER = 12,    /* detail: isolate_user_detail */
    ISOLATE_STEP_NO_NEW_PRIVS = 13,
    ISOLATE_STEP_SECCOMP = 14,
    ISOLATE_STEP_USERNS = 15,  /* becoming root of the user namespace; detail: isolate_user_detail */
    ISOLATE_STEP_RLIMIT = 16,  /* detail: the index in rlimits */
    ISOLATE_STEP_TTY = 17,     /* detail: isolate_tty_detail */
    ISOLATE_STEP_INIT = 18,    /* --init could not start the command (fork) */
    ISOLATE_STEP_EXEC_FIFO = 19, /* detached: opening the exec FIFO that `start` writes to */
    ISOLATE_STEP_JOIN_NS = 20, /* joining an existing namespace (OCI linux.namespaces[].path); detail: its index */
    ISOLATE_STEP_SYSCTL = 21,  /* writing a sysctl (OCI linux.sysctl); detail: its index */
    ISOLATE_STEP_EXEC_INTO = 22, /* exec into a container: forking the command in its PID namespace */
    ISOLATE_STEP_DOMAINNAME = 23,  /* setdomainname (OCI domainname) */
    ISOLATE_STEP_IO_PRIORITY = 24, /* ioprio_set (OCI process.ioPriority) */
    ISOLATE_STEP_SCHEDULER = 25,   /* sched_setattr (OCI process.scheduler) */
};

enum isolate_tty_detail {
    ISOLATE_TTY_OPEN_MASTER = 0, /* /dev/ptmx of the container's devpts */
    ISOLATE_TTY_OPEN_SLAVE = 1,
    ISOLATE_TTY_CONTROLLING = 2, /* TIOCSCTTY */
    ISOLATE_TTY_STDIO = 3,       /* dup2 onto 0, 1, 2 */
    ISOLATE_TTY_SEND = 4,        /* passing the master to the parent */
};

enum isolate_caps_detail {
    ISOLATE_CAPS_BOUNDING = 0,
    ISOLATE_CAPS_SET = 1,
    ISOLATE_CAPS_AMBIENT = 2,
};

enum isolate_user_detail {
    ISOLATE_USER_GROUPS = 0,
    ISOLATE_USER_GID = 1,
    ISOLATE_USER_UID = 2,
};

enum isolate_workdir_detail {
    ISOLATE_WORKDIR_ENTER = 0,        /* chdir failed */
    ISOLATE_WORKDIR_CREATE = 1,       /* it was missing and mkdir -p failed */
    ISOLATE_WORKDIR_OUTSIDE_ROOT = 2, /* chdir led outside the new root (a magic link) */
};

enum isolate_exec_detail {
    ISOLATE_EXEC_NOT_FOUND = 0, /* no file by that name (in PATH) */
    ISOLATE_EXEC_FOUND = 1,     /* the file exists: ENOENT means its interpreter or loader is missing */
    ISOLATE_EXEC_OWN_BINARY = 2,/* no longer sent (native/selfexe.c made the check moot); the number stays taken */
};

enum isolate_spawn_flags {
    ISOLATE_SPAWN_LOOPBACK_UP = 1u << 0,  /* bring `lo` up in a new network namespace */
    ISOLATE_SPAWN_NEW_CGROUPNS = 1u << 1, /* unshare a cgroup namespace after the gate, once
                                             the parent has placed the child in its cgroup:
                                             the container then sees its group as "/" */
    ISOLATE_SPAWN_INIT = 1u << 3,         /* --init: PID 1 stays the shim, reaps zombies and forwards
                                             signals; the command runs as PID 2 */
    ISOLATE_SPAWN_TTY = 1u << 4,          /* -t: a pseudo-terminal from the container's own devpts
                                             becomes stdio and the controlling terminal; its
                                             master goes to the parent in a TTY message */
    ISOLATE_SPAWN_DETACHED = 1u << 5,     /* OCI create: once set up, the child checks that the
                                             command exists, sends CREATED, drops PDEATHSIG (it
                                             outlives `create`) and waits for one byte on the
                                             exec FIFO (written by `start`); then a no_new_privs
                                             seccomp filter and execve (user, capabilities and
                                             the rest are applied before CREATED). Failures after
                                             CREATED go to the exec_status FIFO (without one, to
                                             stderr as one line). */
    ISOLATE_SPAWN_EXEC_INTO = 1u << 6,    /* exec into a running container: clone_flags is 0,
                                             ns_joins lists its namespaces (user first, mnt
                                             last); after joining them the child forks the
                                             command with CLONE_PARENT (so it is in the joined
                                             PID namespace, and the caller's child), reports its
                                             PID in an EXEC_PID note and exits */
    ISOLATE_SPAWN_NO_PDEATHSIG = 1u << 7, /* the command must outlive the caller (exec --detach) */
    ISOLATE_SPAWN_HELD_BY_PARENT = 1u << 12, /* with DETACHED: the parent that waits for the
                                             container holds it on the exec FIFO (a foreground
                                             OCI run with createContainer/startContainer hooks):
                                             PDEATHSIG stays, it dies with its parent */
    ISOLATE_SPAWN_EXEC_FD = 1u << 8,      /* execute the file the GO message carries (execveat,
                                             AT_EMPTY_PATH) rather than looking argv[0] up: an
                                             OCI hook's program, opened by the parent */
    ISOLATE_SPAWN_SCHEDULER = 1u << 9,    /* sched_setattr(2) with the sched_* fields before exec */
    ISOLATE_SPAWN_USERNS = 1u << 2,       /* clone_flags has CLONE_NEWUSER: after the gate (the
                                             parent has written the id maps) become uid and gid 0
                                             of the namespace before anything else */
};

/* One BPF instruction, as struct sock_filter. */
struct isolate_bpf_insn {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
};

enum isolate_security_flags {
    ISOLATE_SECURITY_NO_NEW_PRIVS = 1u << 0, /* prctl(PR_SET_NO_NEW_PRIVS) before exec */
    ISOLATE_SECURITY_KEEP_GROUPS = 1u << 1,  /* never call setgroups: a user namespace whose
                                                setgroups file says "deny" (rootless) refuses it */
    ISOLATE_SECURITY_OCI_CAPS = 1u << 2,     /* the OCI capability sets as given, for any user:
                                                KEEPCAPS across setuid, capset, then the ambient
                                                set raised (without it: a non-root command starts
                                                with none, as under docker) */
    ISOLATE_SECURITY_SECCOMP_LOG = 1u << 3,        /* seccomp(2) with SECCOMP_FILTER_FLAG_LOG        */
    ISOLATE_SECURITY_SECCOMP_SPEC_ALLOW = 1u << 4, /* ... with SECCOMP_FILTER_FLAG_SPEC_ALLOW         */
};

/* Who the command runs as and what it may do, applied last, after pivot_root:
 * bounding set, user and groups, capability sets, no_new_privs, seccomp. */
struct isolate_process_security {
    uint64_t cap_bounding;  /* bit N: capability N */
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint32_t last_cap;      /* /proc/sys/kernel/cap_last_cap */
    uint32_t flags;         /* isolate_security_flags */
    uint32_t uid;
    uint32_t gid;
    const uint32_t *groups; /* supplementary groups */
    uint32_t group_count;
    uint32_t seccomp_len;   /* 0: no filter */
    const struct isolate_bpf_insn *seccomp;
    uint32_t preserve_fds;  /* fds 3 .. 3+N-1 reach the container (--preserve-fds) */
    uint32_t reserved;
    uint64_t cap_ambient;   /* ISOLATE_SECURITY_OCI_CAPS: raised after capset */
};

/* An existing namespace to join (setns) instead of making one: nstype is one CLONE_NEW*
 * flag (OCI bundles: network, ipc, uts, pid or cgroup; exec: all of the container's).
 * Outside exec, isolate_shim_spawn joins net, ipc, uts, pid and cgroup ones itself, on
 * the calling thread around clone(): the child starts in them, before any namespace of
 * its own (a user namespace it made would lack the rights to join the host's), and a
 * joined PID namespace holds the child itself (setns moves only children). */
struct isolate_ns_join {
    const char *path;
    uint32_t nstype;
    uint32_t reserved;
};

/* A namespaced sysctl, written by the child once its namespaces are final and before
 * the mount plan: path is under /proc/sys (the host's procfs, which shows the child's
 * own network and IPC namespaces' values). */
struct isolate_sysctl {
    const char *path;
    const char *value;
};

/* One setrlimit for the command (--ulimit). */
struct isolate_rlimit {
    uint32_t resource; /* RLIMIT_* */
    uint32_t reserved;
    uint64_t soft;     /* RLIM_INFINITY: ~0 */
    uint64_t hard;
};

struct isolate_spawn_config {
    uint32_t abi_version;
    uint32_t flags;          /* isolate_spawn_flags */
    uint64_t clone_flags;    /* CLONE_NEW* */
    const char *hostname;    /* NULL: keep */
    const struct isolate_mount_op *mount_ops;
    uint32_t mount_op_count;
    uint32_t reserved;
    const char *workdir;     /* absolute, inside the new root; created if missing */
    const char *const *argv; /* NULL-terminated; argv[0] is looked up in search_path if it has no '/' */
    const char *const *envp; /* NULL-terminated */
    const char *search_path; /* the container's PATH, for argv[0] lookup */
    struct isolate_process_security security;
    const struct isolate_rlimit *rlimits; /* applied after the mount plan, before the security steps */
    uint32_t rlimit_count;
    uint16_t tty_rows;     /* ISOLATE_SPAWN_TTY: the window size to start with (0: leave it) */
    uint16_t tty_cols;
    const char *exec_fifo; /* ISOLATE_SPAWN_DETACHED: the FIFO, a host path opened before the mounts */
    const struct isolate_ns_join *ns_joins; /* joined right after the gate (and the user namespace) */
    uint32_t ns_join_count;
    uint32_t sysctl_count;
    const struct isolate_sysctl *sysctls;
    const char *domainname;  /* NULL: keep; set with the hostname */
    uint32_t umask;          /* the command's, set once the mount plan is done (runc's default: 022) */
    int32_t io_priority;     /* ioprio_set(2)'s value for the command (class << 13 | level); -1: leave it */
    uint32_t sched_policy;   /* ISOLATE_SPAWN_SCHEDULER: sched_setattr(2) for the command */
    int32_t sched_nice;
    uint32_t sched_priority;
    uint32_t reserved2;
    uint64_t sched_flags;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    /* ISOLATE_SPAWN_DETACHED: a second FIFO (host path), opened with exec_fifo and held
     * close-on-exec: once `start` lets the child go, a failure (seccomp, exec) is written
     * there as one FAILED message for `start` to report; end-of-file means it exec'd. */
    const char *exec_status;
};

/* Which call of isolate_shim_spawn failed, when it returns an error. */
enum isolate_spawn_call {
    ISOLATE_SPAWN_CALL_CONFIG = 1,     /* the config itself (ABI version, argv, envp) */
    ISOLATE_SPAWN_CALL_SOCKETPAIR = 2,
    ISOLATE_SPAWN_CALL_STACK = 3,      /* mmap/mprotect of the child's stack */
    ISOLATE_SPAWN_CALL_CLONE = 4,
    ISOLATE_SPAWN_CALL_JOIN_NS = 5,    /* joining ns_joins[failed_detail] before the clone */
};

struct isolate_spawn_result {
    int32_t pid;         /* the container's PID 1, as the host sees it */
    int32_t sync_fd;     /* the parent's end of the sync socket (close-on-exec) */
    int32_t pidfd;       /* a pidfd for the child (CLONE_PIDFD), or -1 on kernels before 5.2 */
    uint32_t failed_call;/* isolate_spawn_call, when spawn fails */
    int32_t failed_detail; /* JOIN_NS: the index in ns_joins; otherwise -1 */
};

/* Messages on the sync socket; fixed size so one read is one message. */
enum isolate_msg_type {
    ISOLATE_MSG_GO = 1,     /* parent -> child: sync 1, the gate opens; may carry one fd
                               (SCM_RIGHTS), a detached mount tree for capture slot `detail` */
    ISOLATE_MSG_FAILED = 2, /* child -> parent: sync 2, a step failed */
    ISOLATE_MSG_NOTE = 3,   /* child -> parent: something worth a --debug line; more follow */
    ISOLATE_MSG_TTY = 4,    /* child -> parent: carries the pty master (SCM_RIGHTS); more follow */
    ISOLATE_MSG_CREATED = 5,/* child -> parent (detached): set up, waiting on the exec FIFO */
    ISOLATE_MSG_TREE = 6,   /* parent -> child, right after GO (whose `step` counts them): one
                               detached mount tree (SCM_RIGHTS) for capture slot `detail`, a
                               bind source the parent opened with its own rights (user
                               namespaces: the child's may not reach it) */
};

/* Notes the child sends (step, detail as in FAILED). */
enum isolate_note {
    ISOLATE_NOTE_NO_PIVOT = 1, /* step MOUNT_OP: pivot_root refused (EINVAL, an initramfs root):
                                  the root was moved onto / and chroot'ed instead */
    ISOLATE_NOTE_EXEC_PID = 2, /* EXEC_INTO: detail is the command's PID (the caller's child) */
};

struct isolate_msg {
    uint32_t type;
    uint32_t step;  /* isolate_step; for NOTE: isolate_note; for GO: how many TREE follow */
    int32_t err;    /* errno */
    int32_t detail; /* per step, see isolate_step; otherwise -1 */
};

/* Exit codes the child uses when it _exit()s before execve; the FAILED message is
 * the authoritative report, these only keep `waitpid` consistent with it. */
#define ISOLATE_EXIT_SETUP_FAILED 125
#define ISOLATE_EXIT_CANNOT_EXEC 126
#define ISOLATE_EXIT_NOT_FOUND 127

/* For the parent: an O_RDONLY fd on a regular file of the container's, resolved in
 * root_path as the container would (native/resolve.c), or -errno. */
int isolate_shim_open_in_root(const char *root_path, const char *path);
/* For the parent: an O_PATH fd for a host path (a bind source), a symlink followed only
 * where uid 0 owns it; another's stops the walk with -ELOOP, its location in link
 * (link_len bytes) and its owner in *link_uid. Returns the fd or -errno. */
int isolate_shim_open_host_path(const char *path, char *link, uint32_t link_len, uint32_t *link_uid);

/* Called first by a verb that makes a container (native/selfexe.c, CVE-2019-5736):
 * re-execs this process, same argv and environment, from a copy of the binary that
 * cannot be opened for writing. Returns 0 when it already runs from one, otherwise
 * only on failure (a negative errno). */
int isolate_shim_run_sealed(void);

/* For the parent (OCI createContainer hooks, native/program.c): what the kernel would open
 * by path to run the regular file fd holds - looked up in the container's root when the
 * program runs there. Returns an isolate_program_kind or a negative errno. */
enum isolate_program_kind {
    ISOLATE_PROGRAM_STATIC = 0,  /* an ELF program of this machine without PT_INTERP: nothing */
    ISOLATE_PROGRAM_DYNAMIC = 1, /* an ELF program with PT_INTERP: its loader               */
    ISOLATE_PROGRAM_SCRIPT = 2,  /* "#!": its interpreter                                   */
    ISOLATE_PROGRAM_OTHER = 3,   /* neither: a binfmt_misc handler, or nothing runs it      */
};
int isolate_shim_program_kind(int fd);

/* For the parent (native/selfexe.c): a memfd sealed against writing (F_SEAL_WRITE, SHRINK,
 * GROW, SEAL) holding the regular file fd holds, or -errno. Executed through
 * execveat(AT_EMPTY_PATH), it is a process's /proc/PID/exe that nobody can write. */
int isolate_shim_sealed_copy(int fd);

/* What this kernel offers, probed once by the parent (bits of isolate_feature). */
enum isolate_feature {
    ISOLATE_FEATURE_OPENAT2 = 1u << 0,       /* Linux 5.6: RESOLVE_IN_ROOT                 */
    ISOLATE_FEATURE_OPEN_TREE = 1u << 1,     /* Linux 5.2: open_tree + move_mount          */
    ISOLATE_FEATURE_MOUNT_SETATTR = 1u << 2, /* Linux 5.12: recursive read-only in one call */
    ISOLATE_FEATURE_CLOSE_RANGE = 1u << 3,   /* Linux 5.9                                  */
};
uint32_t isolate_shim_features(void);

/* All return 0 on success or a negative errno. isolate_shim_spawn also resets an
 * inherited SIG_IGN for SIGCHLD: with it the kernel would reap the container
 * itself and its exit status would be lost. */
int isolate_shim_spawn(const struct isolate_spawn_config *config, struct isolate_spawn_result *result);
/* tree_fd >= 0 goes with the GO message into the child's capture slot `slot` (a BIND
 * op naming that slot attaches it); the parent's copy stays the caller's to close. */
int isolate_shim_release(int sync_fd, int32_t tree_fd, int32_t slot);
/* The same GO, followed by count TREE messages: trees[i] for capture slot slots[i]
 * (the parent's copies stay the caller's to close). */
int isolate_shim_release_trees(int sync_fd, int32_t tree_fd, int32_t slot, const int32_t *trees, const int32_t *slots,
                               uint32_t count);
/* Parent side: a detached copy of the tree at path (open_tree), recursive when asked,
 * read-only (the whole copy) when asked: what a CAPTURE op takes, taken with the
 * caller's rights. path is canonical: any symlink on it fails with -ELOOP, and the
 * tree is taken from the fd of that walk. Returns its fd (close-on-exec) or -errno. */
int isolate_shim_capture_tree(const char *path, int32_t recursive, int32_t readonly);

/* Parent side, for a user namespace: a detached copy of the tree at path (open_tree),
 * id-mapped through the user namespace userns_fd (mount_setattr MOUNT_ATTR_IDMAP,
 * Linux 5.12), so that files the host sees owned by root are owned by the
 * namespace's root. Returns the tree's fd (close-on-exec) or -errno. */
int isolate_shim_idmapped_tree(const char *path, int32_t userns_fd);
/* 0: exec succeeded (EOF); 1: *failure holds the child's FAILED message; 2: a detached
 * child is set up and waits for `start` (CREATED). NOTE
 * messages on the way are stored in notes (up to max_notes), counted in *note_count;
 * a TTY message's fd lands in *tty_fd (else -1), close-on-exec, the caller's to close. */
int isolate_shim_await_exec(int sync_fd, struct isolate_msg *failure, struct isolate_msg *notes,
                            uint32_t max_notes, uint32_t *note_count, int32_t *tty_fd);

/* The cgroup reaper (native/reaper.c): a process that, if *write_fd closes without a
 * byte written (Isolate died), kills what is left in dirs[shared..count) and removes
 * them from the last, then tries once each of dirs[0..shared), parent levels other
 * containers may be using; then removes layer (when not NULL: the copy-on-write layer of
 * --rootfs, whose container is gone with its group) and its parent if that is empty.
 * Returns its pid or -errno. */
int isolate_shim_spawn_reaper(const char *const *dirs, uint32_t count, uint32_t shared, const char *layer, const char *net,
                              int32_t *write_fd);
/* (net, when not NULL: the container's network directory, released as isolate_net_release
 * does, after the group.) */

/* --network bridge (native/netlink.c); addresses are IPv4 in network byte order, and every
 * call returns 0 or -errno.
 * net_bridge: the bridge name made if missing, addr/prefix on it, up.
 * net_address: the address and prefix length on link name (-ENODEV: no such link).
 * net_veth: a veth pair, host_name on bridge and up, its peer made as eth0 in the network
 * namespace of pid with addr/prefix, up, and a default route via gateway; on failure
 * *failed_step says which part (ISOLATE_NET_STEP_*).
 * nft_container: the nf_tables table (family ip) of one container, replacing any of that
 * name: masquerade for addr's traffic leaving by any link but bridge, and per port a DNAT
 * from the host's address (host_addr 0: any of the host's own) in prerouting and output.
 * nft_delete: that table removed (gone already: 0).
 * net_release: a container's network directory ROOT/containers/ID released: its table
 * isolate-ID, its lease (the symlink its "lease" symlink names, if that still points to ID),
 * its ports, the directory itself (the veth pair goes with the container's network
 * namespace, which the kernel removes once nothing is in it); with take_lock,
 * under an exclusive flock of ROOT/lock, which lease claims also take. */
struct isolate_port {
    uint32_t host_addr;
    uint16_t host_port;
    uint16_t container_port;
    uint32_t protocol; /* IPPROTO_TCP or IPPROTO_UDP */
};
enum {
    ISOLATE_NET_STEP_NAMESPACE = 1,
    ISOLATE_NET_STEP_BRIDGE = 2,
    ISOLATE_NET_STEP_VETH = 3,
    ISOLATE_NET_STEP_INSIDE = 4,
};
int isolate_net_bridge(const char *name, uint32_t addr, uint32_t prefix);
int isolate_net_address(const char *name, uint32_t *addr, uint32_t *prefix);
int isolate_net_veth(const char *bridge, const char *host_name, int32_t pid, uint32_t addr, uint32_t prefix, uint32_t gateway,
                     int32_t *failed_step);
int isolate_nft_container(const char *table, const char *bridge, uint32_t addr, const struct isolate_port *ports, uint32_t count);
int isolate_nft_delete(const char *table);
int isolate_net_release(const char *dir, int32_t take_lock);
/* A host port free to publish: port (0: one the kernel picks) bound for a moment on addr
 * (0: any); returns the port or -errno (-EADDRINUSE: a host process has it). */
int isolate_net_port_check(uint8_t protocol, uint32_t addr, uint16_t port);

/* Rootless --network bridge (native/slirp.c).
 * net_slirp: program (slirp4netns) started on pid's user and network namespaces with a
 * configured tap0 (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3), in the directory dir_fd
 * with its API socket at api_socket there (relative: a socket path is short) and its
 * output to log_fd; waits up to timeout_ms for it to be ready. Returns 0
 * with *exit_fd (close-on-exec; closing it ends slirp4netns) and *slirp_pid, or -errno
 * (-ECHILD: it exited before ready, see its log; -ETIMEDOUT: it was killed, not ready).
 * net_slirp_request: request sent to the API socket, its reply (NUL-terminated, at most
 * reply_cap - 1 bytes) read into reply; returns the reply's length or -errno. */
int isolate_net_slirp(const char *program, int32_t pid, int32_t dir_fd, const char *api_socket, int32_t log_fd, int32_t timeout_ms,
                      int32_t *exit_fd, int32_t *slirp_pid);
int isolate_net_slirp_request(const char *api_socket, const char *request, uint32_t request_len, char *reply, uint32_t reply_cap);

/* -t, parent side (native/relay.c). tty_size reads a terminal's window size;
 * tty_raw saves fd's settings into saved (at least 64 bytes) and makes it raw;
 * tty_restore puts them back. tty_relay copies the pty master to out_fd until every
 * process holding the pty is gone, copying size_fd's window size to the master at
 * start and on each SIGWINCH; when out_fd's reader is gone the container gets SIGPIPE.
 * tty_input, on a thread of its own, copies in_fd to the master until either ends. */
int isolate_shim_tty_size(int32_t fd, uint16_t *rows, uint16_t *cols);
int isolate_shim_tty_raw(int32_t fd, void *saved, uint32_t saved_size);
int isolate_shim_tty_restore(int32_t fd, const void *saved);
int isolate_shim_tty_relay(int32_t master, int32_t out_fd, int32_t size_fd);
int isolate_shim_tty_input(int32_t master, int32_t in_fd);
/* OCI --console-socket: connects to the unix socket at socket_path and sends master
 * over it (SCM_RIGHTS). Returns 0 or -errno. */
int isolate_shim_send_console(const char *socket_path, int32_t master);
/* run -d: starts path (argv, envp) as a detached process - a session of its own, stdin
 * /dev/null, stdout and stderr out_fd. Returns its PID (the caller's child) or -errno. */
int isolate_shim_daemonize(const char *path, const char *const *argv, const char *const *envp, int32_t out_fd);

/* Signal forwarding, parent side (native/forward.c).
 * forward_signals installs the handlers (except for signals the caller left
 * ignored, as nohup does); signals are held until forward_to names the child.
 * Until execve the child (the shim) catches the same signals and exits 128+N;
 * forward_exec_done (after sync 2) delivers again a signal that execve may have
 * swallowed. */
int isolate_shim_forward_signals(const int32_t *signals, uint32_t count);
void isolate_shim_forward_to(int32_t pid, int32_t pidfd);
void isolate_shim_forward_exec_done(void);
void isolate_shim_forward_stop(void);
/* The signal the handler stopped the container for with SIGKILL, or 0. */
int32_t isolate_shim_stopped_by_signal(void);
/* Stopping: SIGTERM sent to Isolate asks for a stop. The container gets stop_signal
 * (forwarded under the usual rules), and if it is still running stop_timeout_ms later,
 * SIGKILL. Set before forward_signals. */
void isolate_shim_forward_stop_policy(int32_t stop_signal, int64_t stop_timeout_ms);
/* Waits until the container has exited, without reaping it (so forwarding can stop
 * before the PID is freed). timeout_ms >= 0: after that long the container is stopped
 * as above, and *timed_out set. Returns 0 or -errno. */
int isolate_shim_wait_exit(int32_t pid, int32_t pidfd, int64_t timeout_ms, int32_t *timed_out);
/* Die with the parent: when the process that started Isolate dies, Isolate gets SIGTERM
 * (a stop, as above). expected_parent is the getppid() seen earlier. PDEATHSIG follows
 * the parent *thread* that forked Isolate. Returns 0 or -errno. */
int isolate_shim_die_with_parent(int32_t expected_parent);
/* 1 when Isolate is the foreground process group of the terminal on fd 0, 1 or 2. */
int isolate_shim_foreground_terminal(void);

/* rm -r of path, byte for byte (names need not be UTF-8), never following a link; a
 * directory its owner may not write into is opened up first. Gone already: 0. 0 or -errno. */
int isolate_shim_remove_tree(const char *path);

/* isolate_shim_run_sealed, for a command line whose verb enters a container (run, exec,
 * create), else nothing: called from native/early.c before the .NET runtime starts, so
 * that the runtime starts once, in the re-exec'd process. 0 when it did not re-exec;
 * otherwise it does not return, or returns -errno (Program's own call then reports it). */
int isolate_shim_run_sealed_early(void);

/* When isolate_shim_run_sealed_early ran (the process's first C code: CLOCK_MONOTONIC, ns);
 * 0 when it did not (a test host loading the shared library). For ISOLATE_TIMING. */
int64_t isolate_shim_started_at(void);

/* argv[1] of the binary started as the cgroup reaper (native/reaper.c): not an option
 * anyone types; early.c hands such a start to isolate_shim_reaper_main. */
#define ISOLATE_REAPER_ARG "--isolate-internal-reaper"

/* The reaper, started from the binary: never returns. */
void isolate_shim_reaper_main(int argc, char **argv) __attribute__((noreturn));

#endif
