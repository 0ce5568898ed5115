/*
 * door_listen - see door_listen.h. Socket activation follows the sd_listen_fds(3) protocol
 * without linking libsystemd: three environment variables and fds from 3 up.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "doors/door_listen.h"

enum { SD_LISTEN_FDS_START = 3 };

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* The listening AF_UNIX stream socket bound to path among those systemd passed, or -1. */
static int inherited_unix(const char *path)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	char *end;
	long pid, n;

	if (!pid_s || !fds_s)
		return -1;
	pid = strtol(pid_s, &end, 10);
	if (*end || pid != (long)getpid())
		return -1;
	n = strtol(fds_s, &end, 10);
	if (*end || n < 1 || n > 64)
		return -1;
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		struct sockaddr_un a;
		socklen_t alen = sizeof(a);
		int type = 0, acc = 0;
		socklen_t ilen = sizeof(int);

		memset(&a, 0, sizeof(a));
		if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0 || a.sun_family != AF_UNIX ||
		    alen <= offsetof(struct sockaddr_un, sun_path))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0 || type != SOCK_STREAM)
			continue;
		ilen = sizeof(int);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &ilen) < 0 || !acc)
			continue;
		if (strncmp(a.sun_path, path, sizeof(a.sun_path)))
			continue;
		if (set_nonblock_cloexec(fd) < 0)
			return -1;
		return fd;
	}
	return -1;
}

/*
 * Removes a socket file nobody accepts on (a previous run that died). A socket that accepts
 * belongs to a live service (ibacm, another localsad) and is kept; a full backlog (EAGAIN) counts
 * as alive. Anything that is not a socket is never removed.
 */
static int clear_stale(const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, ret, err;

	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	err = errno;
	close(fd);
	if (ret == 0 || err == EAGAIN || err == EINPROGRESS)
		return -EADDRINUSE;
	if (err != ECONNREFUSED && err != ENOENT)
		return -err;
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int door_listen_unix(const char *path, mode_t mode, int backlog, int *fd_out, bool *bound)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	fd = inherited_unix(path);
	if (fd >= 0) {
		*fd_out = fd;
		*bound = false;
		return 0;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = clear_stale(&addr);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The file is born with its final mode: set after bind(), it would leave a window in
	 * which anyone the umask lets in could connect, and keep the connection. The daemon is
	 * single-threaded, so the process-wide umask is ours for the call. */
	old_mask = umask(~mode & 0777);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	umask(old_mask);
	if (ret < 0)
		goto out_close;
	if (listen(fd, backlog) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	*fd_out = fd;
	*bound = true;
	return 0;

out_unlink:
	unlink(path);
out_close:
	close(fd);
	return ret;
}

int door_listen_make_dir(const char *path, mode_t mode, gid_t group)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	/* each '/' after the first character ends a directory to have */
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		mode_t old_mask;
		int ret;

		*p = '\0';
		old_mask = umask(~mode & 0777);		/* born with its mode, as the socket */
		ret = mkdir(dir, mode) < 0 ? -errno : 0;
		umask(old_mask);
		if (ret == 0 && group != (gid_t)-1 && chown(dir, (uid_t)-1, group) < 0)
			ret = -errno;
		*p = '/';
		if (ret < 0 && ret != -EEXIST)
			return ret;
	}
	return 0;
}

int door_listen_chgrp(const char *path, gid_t group)
{
	return lchown(path, (uid_t)-1, group) < 0 ? -errno : 0;
}

int door_listen_tcp_loopback(uint16_t port, int backlog, int *fd_out)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd, one = 1, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}
