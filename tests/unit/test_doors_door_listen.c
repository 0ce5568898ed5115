/*
 * test_doors_door_listen.c - listening sockets for the doors: a stale socket file is replaced,
 * a live one is kept (-EADDRINUSE), a regular file is never removed, a socket passed by systemd
 * (LISTEN_PID/LISTEN_FDS) is used as it is, and the TCP listener sits on loopback. The
 * socket file has its mode from the moment it exists (issue 13, item 9: it was chmod-ed after
 * bind, and a permissive umask let anyone connect in between).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "doors/door_listen.h"

static char dir[64];

/* bind() as the library calls it, noting the mode of the file it makes at that instant. */
static bool watch_bind;
static mode_t mode_at_bind;

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct stat st;

	if (syscall(SYS_bind, fd, addr, len) < 0)
		return -1;
	if (watch_bind && addr->sa_family == AF_UNIX &&
	    stat(((const struct sockaddr_un *)addr)->sun_path, &st) == 0)
		mode_at_bind = st.st_mode & 07777;
	return 0;
}

static int bind_unix(const char *path, bool do_listen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (do_listen && listen(fd, 4) < 0))
		return -1;
	return fd;
}

static bool can_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void test_fresh_and_stale(void)
{
	char path[128];
	struct stat st;
	bool bound = false;
	int fd = -1, old;

	snprintf(path, sizeof(path), "%s/fresh.sock", dir);
	CHECK_INT(0, door_listen_unix(path, 0666, 8, &fd, &bound));
	CHECK(bound);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_INT(0, stat(path, &st));
	CHECK_INT(0666, st.st_mode & 0777);
	CHECK(can_connect(path));
	close(fd);
	unlink(path);

	/* the file left behind by a process that died: nobody accepts, so it is replaced */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	old = bind_unix(path, false);
	CHECK(old >= 0);
	close(old);
	CHECK_INT(0, door_listen_unix(path, 0600, 8, &fd, &bound));
	CHECK(can_connect(path));
	close(fd);
	unlink(path);
}

static void test_live_and_foreign(void)
{
	char path[128];
	bool bound = false;
	int live, fd = -7, f;

	/* someone (ibacm) listens there: never stolen */
	snprintf(path, sizeof(path), "%s/live.sock", dir);
	live = bind_unix(path, true);
	CHECK(live >= 0);
	CHECK_INT(-EADDRINUSE, door_listen_unix(path, 0666, 8, &fd, &bound));
	CHECK_INT(-7, fd);	/* out-parameters untouched on failure */
	CHECK(can_connect(path));
	close(live);
	unlink(path);

	/* not a socket: left alone */
	snprintf(path, sizeof(path), "%s/file", dir);
	f = open(path, O_CREAT | O_WRONLY, 0600);
	close(f);
	CHECK_INT(-EEXIST, door_listen_unix(path, 0666, 8, &fd, &bound));
	CHECK(access(path, F_OK) == 0);
	unlink(path);

	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CHECK_INT(-ENAMETOOLONG, door_listen_unix(path, 0666, 8, &fd, &bound));
}

static void test_socket_activation(void)
{
	char path[128], other[128], num[32];
	bool bound = true;
	int sys_fd, other_fd, fd = -1;

	snprintf(path, sizeof(path), "%s/activated.sock", dir);
	snprintf(other, sizeof(other), "%s/other.sock", dir);
	other_fd = bind_unix(other, true);	/* passed too, but for another path */
	sys_fd = bind_unix(path, true);
	CHECK(other_fd >= 3 && sys_fd > other_fd);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%d", sys_fd - 2);	/* fds 3 .. sys_fd */
	setenv("LISTEN_FDS", num, 1);
	CHECK_INT(0, door_listen_unix(path, 0666, 8, &fd, &bound));
	CHECK_INT(sys_fd, fd);
	CHECK(!bound);		/* systemd's socket file: not ours to unlink */
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* for another process, the variables mean nothing: a live path is refused */
	setenv("LISTEN_PID", "1", 1);
	CHECK_INT(-EADDRINUSE, door_listen_unix(path, 0666, 8, &fd, &bound));
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	close(sys_fd);
	close(other_fd);
	unlink(path);
	unlink(other);
}

static void test_no_mode_window(void)
{
	char path[128];
	bool bound = false;
	mode_t old = umask(0);	/* the worst case: a file made under it is 0777 */
	int fd = -1;

	snprintf(path, sizeof(path), "%s/private.sock", dir);
	watch_bind = true;
	CHECK_INT(0, door_listen_unix(path, 0600, 8, &fd, &bound));
	watch_bind = false;
	CHECK_INT(0600, mode_at_bind);
	CHECK_INT(0, umask(old));	/* the caller's umask is back */
	close(fd);
	unlink(path);
}

static void test_tcp(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = -1;

	CHECK_INT(0, door_listen_tcp_loopback(0, 8, &fd));	/* port 0: any free one */
	CHECK(fd >= 0);
	CHECK_INT(0, getsockname(fd, (struct sockaddr *)&a, &len));
	CHECK_INT(htonl(INADDR_LOOPBACK), a.sin_addr.s_addr);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* The socket's directory is made when missing (/run/localsa outside systemd), with its mode;
 * one that exists is left alone. */
static void test_make_dir(void)
{
	char sock[256], sub[128];
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/run/localsa", dir);
	snprintf(sock, sizeof(sock), "%s/localsa.sock", sub);
	CHECK_INT(0, door_listen_make_dir(sock, 0755, (gid_t)-1));
	CHECK_INT(0, stat(sub, &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(0755, st.st_mode & 07777);
	chmod(sub, 0700);
	CHECK_INT(0, door_listen_make_dir(sock, 0755, (gid_t)-1));
	CHECK_INT(0, stat(sub, &st));
	CHECK_INT(0700, st.st_mode & 07777);
	/* a file in the way is an error, not a directory */
	snprintf(sock, sizeof(sock), "%s/file/x/y.sock", dir);
	snprintf(sub, sizeof(sub), "%s/file", dir);
	close(open(sub, O_CREAT | O_WRONLY, 0600));
	CHECK_INT(-ENOTDIR, door_listen_make_dir(sock, 0755, (gid_t)-1));
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/run/localsa", dir);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/run", dir);
	rmdir(sub);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lsa-door-listen.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_fresh_and_stale();
	test_live_and_foreign();
	test_socket_activation();
	test_no_mode_window();
	test_tcp();
	test_make_dir();
	CHECK_INT(0, rmdir(dir));	/* every file removed */
	return CHECK_DONE();
}
