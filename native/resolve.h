/* resolve.h - paths inside the container's root (see resolve.c). */
#ifndef ISOLATE_RESOLVE_H
#define ISOLATE_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The new root while the mount plan runs: an O_PATH fd and the host path it had. */
struct isolate_root {
    int fd;
    const char *path;
};

/* "/proc/self/fd/N": how mount(2) is pointed at an fd. */
#define ISOLATE_FD_PATH_MAX 32
void isolate_fd_path(char buf[ISOLATE_FD_PATH_MAX], int fd);

/* An O_PATH fd for path (absolute, as the container sees it), symlinks resolved as
 * if the root were "/", never out of it; with no_symlinks, any symlink fails with
 * -ELOOP. openat2(RESOLVE_IN_ROOT) where the kernel has it; before 5.6 the same
 * walk by hand, component by component, and the fd's real location checked
 * through /proc/self/fd. Returns the fd or -errno. */
int isolate_open_in_root(const struct isolate_root *root, const char *path, int no_symlinks);

/* 1 when fd is the root directory itself. */
int isolate_is_root(const struct isolate_root *root, int fd);

/* Creates path inside the root where it is missing, with missing parents, as a
 * directory (or, for as_file, an empty file at the end). A dangling symlink on the
 * way is followed inside the root, as the kernel will follow it. 0 or -errno. */
int isolate_create_in_root(const struct isolate_root *root, const char *path, int as_file, mode_t mode);

/* An O_PATH fd for a host path (a bind source), walked from / (or the current
 * directory for a relative path) one component at a time with O_NOFOLLOW. With
 * follow_root_links, a symlink is followed only where uid 0 owns it: one anyone else
 * owns - a user, or a container through its volume - could point the bind anywhere
 * on the host. Without it, no symlink is followed: the mount plan's sources are the
 * canonical paths the parent's walk gave, so a link there now was swapped in since.
 * A refused link stops the walk with -ELOOP, its location in link (link_len bytes,
 * may be 0) and its owner in *link_uid. openat2(RESOLVE_NO_SYMLINKS) first, where the
 * kernel has it: a path without links needs no walk. Returns the fd or -errno; the
 * bind is then made from the fd, never from the path again. */
int isolate_open_host_path(const char *path, int follow_root_links, char *link, size_t link_len, uint32_t *link_uid);

#endif
