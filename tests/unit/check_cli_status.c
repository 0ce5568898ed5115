/*
 * check_cli_status.c CLI - `localsa status` shows a daemon with many ports whole: a fake daemon
 * on a unix socket answers `status` with 48 served ports (~1,100 values). The CLI once kept 800
 * values and then passed the missing ones to strcmp (a SEGV from 35 ports on). Exits 0 when the
 * CLI exits 0 and prints the last port.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PORTS = 48 };

static int fail(const char *what)
{
	fprintf(stderr, "FAIL: %s\n0 passed, 1 failed\n", what);
	return 1;
}

/* "OK 1" and the status object, on one line. */
static size_t status_reply(char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "OK 1\n{\"version\":\"9\",\"pid\":1,\"uptime_s\":5,"
				    "\"ready\":true,\"ports\":[");

	for (int i = 0; i < PORTS && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n,
			"%s{\"ca\":\"mlx5_%d\",\"port\":1,\"gid\":\"fe80::%x\",\"lid\":%d,"
			"\"served\":true,\"state\":\"active\",\"sm_lid\":1,\"sa_reachable\":true,"
			"\"sa_last_answer_age_s\":3,\"last_fill_age_s\":4,\"last_fill_time\":1,"
			"\"filling\":false,\"last_fill_records\":10,\"last_fill_ms\":2,\"fills\":1,"
			"\"fill_failures\":0,\"next_refresh_s\":600,\"entries\":10,"
			"\"destinations\":10,\"subscribed\":4,\"informs\":4,\"traps\":0,"
			"\"pushes\":0}", i ? "," : "", i, i + 1, i + 2);
	n += (size_t)snprintf(out + n, cap - n, "],\"subscriptions\":{\"subscribed\":4,"
			      "\"wanted\":4,\"ok\":true},\"doors\":{\"acm\":true}}\n");
	return n;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/lsa_cli_XXXXXX", path[64], out[1 << 16], buf[4096], last[32];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int lfd, pipefd[2], status;
	pid_t server, cli;
	size_t got = 0;
	ssize_t k;

	if (argc != 2)
		return fail("usage: check_cli_status LOCALSA");
	if (!mkdtemp(dir))
		return fail("mkdtemp");
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0)
		return fail("listen");
	server = fork();
	if (server == 0) {	/* `info` (the CLI's probe), then `status` */
		size_t n = status_reply(out, sizeof(out));

		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			size_t len = 0;

			if (fd < 0)
				_exit(0);
			while ((k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0) {
				char *nl;

				len += (size_t)k;
				buf[len] = '\0';
				while ((nl = strchr(buf, '\n'))) {
					if (!strncmp(buf, "info", 4))
						(void)!send(fd, "OK 1\nshm=\n", 10, MSG_NOSIGNAL);
					else if (!strncmp(buf, "status", 6))
						(void)!send(fd, out, n, MSG_NOSIGNAL);
					len -= (size_t)(nl + 1 - buf);
					memmove(buf, nl + 1, len + 1);
				}
			}
			close(fd);
		}
	}
	close(lfd);
	if (pipe(pipefd) < 0)
		return fail("pipe");
	cli = fork();
	if (cli == 0) {
		dup2(pipefd[1], 1);
		execl(argv[1], argv[1], "-s", path, "status", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((k = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = '\0';
	waitpid(cli, &status, 0);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	unlink(path);
	rmdir(dir);
	snprintf(last, sizeof(last), "port mlx5_%d/1", PORTS - 1);
	if (WIFSIGNALED(status))
		return fail("localsa status was killed by a signal");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return fail("localsa status did not exit 0");
	if (!strstr(out, last) || strstr(out, "(null)"))
		return fail("localsa status did not show every port");
	printf("1 passed, 0 failed\n");
	return 0;
}
