/* probe - a test helper, not part of Isolate: makes one escape attempt from inside a
 * container and prints how the kernel answered ("ok", "errno EPERM", "killed SIGSYS"),
 * so the tests can check the reason an attempt failed, not just that it did.
 *
 *   probe ATTEMPT    (see the table in main) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int report(long rc)
{
    if (rc >= 0)
        printf("ok\n");
    else
        printf("errno %s\n", strerrorname_np(errno));
    return 0;
}

/* Runs fn in a child and says how the child ended: a filter's KILL shows as SIGSYS. */
static int in_child(long (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long rc = fn();
        _exit(rc < 0 ? 100 + errno % 100 : 0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("killed %s\n", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        printf("exited %d\n", WEXITSTATUS(status));
    return 0;
}

static long x32_getpid(void) { return syscall(SYS_getpid | 0x40000000); }

static long i386_getpid(void)
{
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory"); /* getpid on the i386 ABI */
    return rc;
}

/* A host program run inside a container (an OCI createContainer hook) attacked from
 * there: a container process that does not run this file keeps a handle on its
 * /proc/self/exe (busybox sh, fd 9), and once this process has exited (no more
 * ETXTBSY) reopens the handle for appending and writes a byte. Its answer ("wrote" or
 * "refused") lands in RESULT, a path in the container. */
static int keep_exe(const char *result)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0 || dup2(fd, 9) < 0)
        return report(-1);
    char script[512];
    snprintf(script, sizeof script,
             "sleep 1; if printf X >> /proc/self/fd/9; then echo wrote; else echo refused; fi > %s 2>&1", result);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        setsid();
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    return report(pid);
}

static int clone_child(void *arg) { (void)arg; return 0; }

/* CVE-2019-5736 as the attacker does it: wait for a process of the container whose exe is
 * neither this probe nor busybox (the runtime's binary, run by a "#!/proc/self/exe"
 * command), keep a handle on its exe, and once the runtime has exited (no more ETXTBSY)
 * reopen that handle for writing and write. Prints "wrote", "errno E...", or "none". */
static int overwrite_runtime(void)
{
    struct stat self, busybox, st;
    setvbuf(stdout, NULL, _IONBF, 0); /* the test reads the answer while the container lives */
    if (stat("/proc/self/exe", &self) < 0 || stat("/bin/busybox", &busybox) < 0)
        return report(-1);
    int held = -1;
    for (time_t deadline = time(NULL) + 20; held < 0 && time(NULL) < deadline;) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc != NULL && held < 0 && (entry = readdir(proc)) != NULL) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || atoi(entry->d_name) == getpid())
                continue;
            char path[sizeof entry->d_name + 16];
            snprintf(path, sizeof path, "/proc/%s/exe", entry->d_name);
            int fd = open(path, O_PATH);
            if (fd < 0)
                continue;
            if (fstat(fd, &st) == 0 && !(st.st_dev == self.st_dev && st.st_ino == self.st_ino) &&
                !(st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino))
                held = fd;
            else
                close(fd);
        }
        if (proc != NULL)
            closedir(proc);
    }
    if (held < 0) {
        printf("none\n");
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", held);
    for (int tries = 0; tries < 1000; tries++) { /* 10 s for the runtime to exit */
        int fd = open(path, O_WRONLY);
        if (fd >= 0) {
            if (pwrite(fd, "overwritten", 11, 0) != 11)
                return report(-1);
            printf("wrote\n");
            return 0;
        }
        if (errno != ETXTBSY)
            return report(-1);
        usleep(10000);
    }
    return report(-1);
}

/* udp-echo PORT: answers one datagram with "echo:" and what came (NetworkTests' UDP server). */
static int udp_echo(const char *port_text)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port_text)) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&at, sizeof at) < 0)
        return report(-1);
    printf("ready\n");
    fflush(stdout);
    char buf[512] = "echo:";
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &from_len);
    if (n < 0)
        return report(-1);
    sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, from_len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: probe ATTEMPT\n");
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "udp-echo") && argc > 2)
        return udp_echo(argv[2]);
    if (!strcmp(a, "keyctl"))
        return report(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0));
    if (!strcmp(a, "add_key"))
        return report(syscall(SYS_add_key, "user", "probe", "x", 1, -3));
    if (!strcmp(a, "unshare-user"))
        return report(unshare(CLONE_NEWUSER));
    if (!strcmp(a, "unshare-mount"))
        return report(unshare(CLONE_NEWNS));
    if (!strcmp(a, "clone-newuser")) {
        static char stack[65536];
        long pid = clone(clone_child, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL);
        if (pid > 0)
            waitpid((pid_t)pid, NULL, 0);
        return report(pid);
    }
    if (!strcmp(a, "clone3"))
        return report(syscall(SYS_clone3, NULL, 0));
    if (!strcmp(a, "mount"))
        return report(mount("none", "/tmp", "tmpfs", 0, ""));
    if (!strcmp(a, "reboot"))
        return report(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL));
    if (!strcmp(a, "kexec_load"))
        return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(a, "init_module"))
        return report(syscall(SYS_init_module, NULL, 0, ""));
    if (!strcmp(a, "bpf"))
        return report(syscall(SYS_bpf, 0, NULL, 0));
    if (!strcmp(a, "perf_event_open"))
        return report(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    if (!strcmp(a, "open_by_handle_at"))
        return report(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
    if (!strcmp(a, "swapon"))
        return report(syscall(SYS_swapon, "/nonexistent", 0));
    if (!strcmp(a, "io_uring_setup"))
        return report(syscall(SYS_io_uring_setup, 1, NULL));
    if (!strcmp(a, "settimeofday"))
        return report(syscall(SYS_settimeofday, NULL, NULL));
    if (!strcmp(a, "chroot"))
        return report(chroot("/"));
    if (!strcmp(a, "x32"))
        return in_child(x32_getpid);
    if (!strcmp(a, "i386"))
        return in_child(i386_getpid);
    if (!strcmp(a, "tty"))
        return report(open("/dev/tty", O_RDWR));
    if (!strcmp(a, "tiocsti")) {
        char c = '#';
        return report(ioctl(0, TIOCSTI, &c));
    }
    if (!strcmp(a, "euid-suid")) {
        /* run the setuid-root copy and let it say which euid it got */
        execl("/bin/probe-suid", "probe-suid", "euid", (char *)NULL);
        return report(-1);
    }
    if (!strcmp(a, "euid")) {
        printf("euid %d\n", (int)geteuid());
        return 0;
    }
    if (!strcmp(a, "overwrite-runtime"))
        return overwrite_runtime();
    if (!strcmp(a, "keep-exe") && argc > 2)
        return keep_exe(argv[2]);
    if (!strcmp(a, "vsock")) /* vsock is not network-namespaced */
        return report(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    if (!strcmp(a, "personality") && argc > 2)
        return report(syscall(SYS_personality, strtoul(argv[2], NULL, 0)));
    if (!strcmp(a, "listmount")) /* no request: EFAULT when the call gets to the kernel */
        return report(syscall(458 /* SYS_listmount */, NULL, NULL, 0, 0));
    if (!strcmp(a, "statmount"))
        return report(syscall(457 /* SYS_statmount */, NULL, NULL, 0, 0));
    if (!strcmp(a, "write-exe")) {
        /* an fd on /proc/self/exe as a way to the runtime's binary */
        int fd = open("/proc/self/exe", O_WRONLY);
        return report(fd);
    }
    fprintf(stderr, "probe: unknown attempt %s\n", a);
    return 2;
}
