/* abi_layout.c - prints the ABI of native/include/isolate_shim.h as the C compiler sees
 * it, for tests/Isolate.Tests/Unit/AbiTests.cs to compare with the C# mirrors
 * (src/Isolate.Core/Interop/Shim.cs and the enums named there). abi_version alone
 * cannot catch a field added in the wrong order; this can. One fact per line:
 *   struct NAME SIZE
 *   field STRUCT FIELD OFFSET SIZE      (every field, in declaration order)
 *   enum ENUM CONSTANT VALUE            (every constant of every enum)
 *   define NAME VALUE
 * Every struct and enum of the header is listed here; the test checks that against the
 * header's text, so a new one cannot be left out. Built by the test, not by cmake. */
#include <stddef.h>
#include <stdio.h>

#include "isolate_shim.h"

#define STRUCT(s) printf("struct %s %zu\n", #s, sizeof(struct s))
#define FIELD(s, f) printf("field %s %s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))
#define CONSTANT(e, c) printf("enum %s %s %lld\n", #e, #c, (long long)(c))
#define DEFINE(d) printf("define %s %lld\n", #d, (long long)(d))

static void structs(void)
{
    STRUCT(isolate_mount_op);
    FIELD(isolate_mount_op, kind);
    FIELD(isolate_mount_op, flags);
    FIELD(isolate_mount_op, mode);
    FIELD(isolate_mount_op, options);
    FIELD(isolate_mount_op, dev);
    FIELD(isolate_mount_op, slot);
    FIELD(isolate_mount_op, reserved);
    FIELD(isolate_mount_op, source);
    FIELD(isolate_mount_op, target);
    FIELD(isolate_mount_op, fstype);
    FIELD(isolate_mount_op, data);
    FIELD(isolate_mount_op, uid);
    FIELD(isolate_mount_op, gid);

    STRUCT(isolate_bpf_insn);
    FIELD(isolate_bpf_insn, code);
    FIELD(isolate_bpf_insn, jt);
    FIELD(isolate_bpf_insn, jf);
    FIELD(isolate_bpf_insn, k);

    STRUCT(isolate_process_security);
    FIELD(isolate_process_security, cap_bounding);
    FIELD(isolate_process_security, cap_effective);
    FIELD(isolate_process_security, cap_permitted);
    FIELD(isolate_process_security, cap_inheritable);
    FIELD(isolate_process_security, last_cap);
    FIELD(isolate_process_security, flags);
    FIELD(isolate_process_security, uid);
    FIELD(isolate_process_security, gid);
    FIELD(isolate_process_security, groups);
    FIELD(isolate_process_security, group_count);
    FIELD(isolate_process_security, seccomp_len);
    FIELD(isolate_process_security, seccomp);
    FIELD(isolate_process_security, preserve_fds);
    FIELD(isolate_process_security, reserved);
    FIELD(isolate_process_security, cap_ambient);

    STRUCT(isolate_ns_join);
    FIELD(isolate_ns_join, path);
    FIELD(isolate_ns_join, nstype);
    FIELD(isolate_ns_join, reserved);

    STRUCT(isolate_port);
    FIELD(isolate_port, host_addr);
    FIELD(isolate_port, host_port);
    FIELD(isolate_port, container_port);
    FIELD(isolate_port, protocol);

    STRUCT(isolate_sysctl);
    FIELD(isolate_sysctl, path);
    FIELD(isolate_sysctl, value);

    STRUCT(isolate_rlimit);
    FIELD(isolate_rlimit, resource);
    FIELD(isolate_rlimit, reserved);
    FIELD(isolate_rlimit, soft);
    FIELD(isolate_rlimit, hard);

    STRUCT(isolate_spawn_config);
    FIELD(isolate_spawn_config, abi_version);
    FIELD(isolate_spawn_config, flags);
    FIELD(isolate_spawn_config, clone_flags);
    FIELD(isolate_spawn_config, hostname);
    FIELD(isolate_spawn_config, mount_ops);
    FIELD(isolate_spawn_config, mount_op_count);
    FIELD(isolate_spawn_config, reserved);
    FIELD(isolate_spawn_config, workdir);
    FIELD(isolate_spawn_config, argv);
    FIELD(isolate_spawn_config, envp);
    FIELD(isolate_spawn_config, search_path);
    FIELD(isolate_spawn_config, security);
    FIELD(isolate_spawn_config, rlimits);
    FIELD(isolate_spawn_config, rlimit_count);
    FIELD(isolate_spawn_config, tty_rows);
    FIELD(isolate_spawn_config, tty_cols);
    FIELD(isolate_spawn_config, exec_fifo);
    FIELD(isolate_spawn_config, ns_joins);
    FIELD(isolate_spawn_config, ns_join_count);
    FIELD(isolate_spawn_config, sysctl_count);
    FIELD(isolate_spawn_config, sysctls);
    FIELD(isolate_spawn_config, domainname);
    FIELD(isolate_spawn_config, umask);
    FIELD(isolate_spawn_config, io_priority);
    FIELD(isolate_spawn_config, sched_policy);
    FIELD(isolate_spawn_config, sched_nice);
    FIELD(isolate_spawn_config, sched_priority);
    FIELD(isolate_spawn_config, reserved2);
    FIELD(isolate_spawn_config, sched_flags);
    FIELD(isolate_spawn_config, sched_runtime);
    FIELD(isolate_spawn_config, sched_deadline);
    FIELD(isolate_spawn_config, sched_period);
    FIELD(isolate_spawn_config, exec_status);

    STRUCT(isolate_spawn_result);
    FIELD(isolate_spawn_result, pid);
    FIELD(isolate_spawn_result, sync_fd);
    FIELD(isolate_spawn_result, pidfd);
    FIELD(isolate_spawn_result, failed_call);
    FIELD(isolate_spawn_result, failed_detail);

    STRUCT(isolate_msg);
    FIELD(isolate_msg, type);
    FIELD(isolate_msg, step);
    FIELD(isolate_msg, err);
    FIELD(isolate_msg, detail);
}

static void enums(void)
{
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_MAKE_PRIVATE);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_BIND);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_FILESYSTEM);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_READONLY);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_MKDIR);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_MKNOD);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_SYMLINK);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_PIVOT_ROOT);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_OPEN_ROOT);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_MASK);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_READONLY_PATH);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_CAPTURE);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_REMOUNT);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_PROPAGATION);
    CONSTANT(isolate_mount_kind, ISOLATE_MOUNT_WRITE_FILE);

    CONSTANT(isolate_op_options, ISOLATE_OP_IN_ROOT);
    CONSTANT(isolate_op_options, ISOLATE_OP_NO_SYMLINKS);
    CONSTANT(isolate_op_options, ISOLATE_OP_CREATE_DIR);
    CONSTANT(isolate_op_options, ISOLATE_OP_CREATE_FILE);
    CONSTANT(isolate_op_options, ISOLATE_OP_RECURSIVE);
    CONSTANT(isolate_op_options, ISOLATE_OP_OPTIONAL);
    CONSTANT(isolate_op_options, ISOLATE_OP_KEEP_EXISTING);
    CONSTANT(isolate_op_options, ISOLATE_OP_REPLACE);
    CONSTANT(isolate_op_options, ISOLATE_OP_KEEP_MODE);
    CONSTANT(isolate_op_options, ISOLATE_OP_CHOWN);
    CONSTANT(isolate_op_options, ISOLATE_OP_COPY_UP);

    CONSTANT(isolate_step, ISOLATE_STEP_SETSID);
    CONSTANT(isolate_step, ISOLATE_STEP_HOSTNAME);
    CONSTANT(isolate_step, ISOLATE_STEP_LOOPBACK);
    CONSTANT(isolate_step, ISOLATE_STEP_MOUNT_OP);
    CONSTANT(isolate_step, ISOLATE_STEP_WORKDIR);
    CONSTANT(isolate_step, ISOLATE_STEP_CLOSE_FDS);
    CONSTANT(isolate_step, ISOLATE_STEP_EXEC);
    CONSTANT(isolate_step, ISOLATE_STEP_STDIO);
    CONSTANT(isolate_step, ISOLATE_STEP_CGROUPNS);
    CONSTANT(isolate_step, ISOLATE_STEP_CAPS);
    CONSTANT(isolate_step, ISOLATE_STEP_USER);
    CONSTANT(isolate_step, ISOLATE_STEP_NO_NEW_PRIVS);
    CONSTANT(isolate_step, ISOLATE_STEP_SECCOMP);
    CONSTANT(isolate_step, ISOLATE_STEP_USERNS);
    CONSTANT(isolate_step, ISOLATE_STEP_RLIMIT);
    CONSTANT(isolate_step, ISOLATE_STEP_TTY);
    CONSTANT(isolate_step, ISOLATE_STEP_INIT);
    CONSTANT(isolate_step, ISOLATE_STEP_EXEC_FIFO);
    CONSTANT(isolate_step, ISOLATE_STEP_JOIN_NS);
    CONSTANT(isolate_step, ISOLATE_STEP_SYSCTL);
    CONSTANT(isolate_step, ISOLATE_STEP_EXEC_INTO);
    CONSTANT(isolate_step, ISOLATE_STEP_DOMAINNAME);
    CONSTANT(isolate_step, ISOLATE_STEP_IO_PRIORITY);
    CONSTANT(isolate_step, ISOLATE_STEP_SCHEDULER);

    CONSTANT(isolate_tty_detail, ISOLATE_TTY_OPEN_MASTER);
    CONSTANT(isolate_tty_detail, ISOLATE_TTY_OPEN_SLAVE);
    CONSTANT(isolate_tty_detail, ISOLATE_TTY_CONTROLLING);
    CONSTANT(isolate_tty_detail, ISOLATE_TTY_STDIO);
    CONSTANT(isolate_tty_detail, ISOLATE_TTY_SEND);

    CONSTANT(isolate_caps_detail, ISOLATE_CAPS_BOUNDING);
    CONSTANT(isolate_caps_detail, ISOLATE_CAPS_SET);
    CONSTANT(isolate_caps_detail, ISOLATE_CAPS_AMBIENT);

    CONSTANT(isolate_user_detail, ISOLATE_USER_GROUPS);
    CONSTANT(isolate_user_detail, ISOLATE_USER_GID);
    CONSTANT(isolate_user_detail, ISOLATE_USER_UID);

    CONSTANT(isolate_workdir_detail, ISOLATE_WORKDIR_ENTER);
    CONSTANT(isolate_workdir_detail, ISOLATE_WORKDIR_CREATE);
    CONSTANT(isolate_workdir_detail, ISOLATE_WORKDIR_OUTSIDE_ROOT);

    CONSTANT(isolate_exec_detail, ISOLATE_EXEC_NOT_FOUND);
    CONSTANT(isolate_exec_detail, ISOLATE_EXEC_FOUND);
    CONSTANT(isolate_exec_detail, ISOLATE_EXEC_OWN_BINARY);

    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_LOOPBACK_UP);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_NEW_CGROUPNS);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_INIT);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_TTY);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_DETACHED);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_EXEC_INTO);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_NO_PDEATHSIG);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_HELD_BY_PARENT);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_EXEC_FD);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_SCHEDULER);
    CONSTANT(isolate_spawn_flags, ISOLATE_SPAWN_USERNS);

    CONSTANT(isolate_security_flags, ISOLATE_SECURITY_NO_NEW_PRIVS);
    CONSTANT(isolate_security_flags, ISOLATE_SECURITY_KEEP_GROUPS);
    CONSTANT(isolate_security_flags, ISOLATE_SECURITY_OCI_CAPS);
    CONSTANT(isolate_security_flags, ISOLATE_SECURITY_SECCOMP_LOG);
    CONSTANT(isolate_security_flags, ISOLATE_SECURITY_SECCOMP_SPEC_ALLOW);

    CONSTANT(isolate_spawn_call, ISOLATE_SPAWN_CALL_CONFIG);
    CONSTANT(isolate_spawn_call, ISOLATE_SPAWN_CALL_SOCKETPAIR);
    CONSTANT(isolate_spawn_call, ISOLATE_SPAWN_CALL_STACK);
    CONSTANT(isolate_spawn_call, ISOLATE_SPAWN_CALL_CLONE);
    CONSTANT(isolate_spawn_call, ISOLATE_SPAWN_CALL_JOIN_NS);

    CONSTANT(isolate_msg_type, ISOLATE_MSG_GO);
    CONSTANT(isolate_msg_type, ISOLATE_MSG_FAILED);
    CONSTANT(isolate_msg_type, ISOLATE_MSG_NOTE);
    CONSTANT(isolate_msg_type, ISOLATE_MSG_TTY);
    CONSTANT(isolate_msg_type, ISOLATE_MSG_CREATED);
    CONSTANT(isolate_msg_type, ISOLATE_MSG_TREE);

    CONSTANT(isolate_note, ISOLATE_NOTE_NO_PIVOT);
    CONSTANT(isolate_note, ISOLATE_NOTE_EXEC_PID);

    CONSTANT(isolate_feature, ISOLATE_FEATURE_OPENAT2);
    CONSTANT(isolate_feature, ISOLATE_FEATURE_OPEN_TREE);
    CONSTANT(isolate_feature, ISOLATE_FEATURE_MOUNT_SETATTR);
    CONSTANT(isolate_feature, ISOLATE_FEATURE_CLOSE_RANGE);

    CONSTANT(isolate_program_kind, ISOLATE_PROGRAM_STATIC);
    CONSTANT(isolate_program_kind, ISOLATE_PROGRAM_DYNAMIC);
    CONSTANT(isolate_program_kind, ISOLATE_PROGRAM_SCRIPT);
    CONSTANT(isolate_program_kind, ISOLATE_PROGRAM_OTHER);
}

static void defines(void)
{
    DEFINE(ISOLATE_SHIM_ABI_VERSION);
    DEFINE(ISOLATE_MAX_CAPTURES);
    DEFINE(ISOLATE_EXIT_SETUP_FAILED);
    DEFINE(ISOLATE_EXIT_CANNOT_EXEC);
    DEFINE(ISOLATE_EXIT_NOT_FOUND);
}

int main(void)
{
    structs();
    enums();
    defines();
    return 0;
}
