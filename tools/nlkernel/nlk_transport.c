/*
 * nlk_transport - see nlk_transport.h. One SOCK_SEQPACKET connection per member socket, one
 * netlink datagram per packet; epoll for the waiting (umad2sim, preloaded in every lab process,
 * wraps poll()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nlk_transport.h"
#include "shim_netlink.h"

int nlk_transport_open(struct nlk_transport *t, const char *dir)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++)
		t->l[i].fd = -1;
	if (strlen(dir) >= sizeof(t->dir))
		return -ENAMETOOLONG;
	strcpy(t->dir, dir);
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	return t->ep < 0 ? -errno : 0;
}

static void forget(struct nlk_transport *t, unsigned i)
{
	epoll_ctl(t->ep, EPOLL_CTL_DEL, t->l[i].fd, NULL);
	close(t->l[i].fd);
	t->l[i].fd = -1;
	t->l[i].member = false;
}

void nlk_transport_close(struct nlk_transport *t)
{
	for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++)
		if (t->l[i].fd >= 0)
			forget(t, i);
	if (t->ep >= 0)
		close(t->ep);
	t->ep = -1;
}

static int find(const struct nlk_transport *t, const char *name)
{
	for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++)
		if (t->l[i].fd >= 0 && !strcmp(t->l[i].name, name))
			return (int)i;
	return -1;
}

static void connect_to(struct nlk_transport *t, const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un sa;
	socklen_t len = shim_nl_listener_addr(&sa, t->dev, t->ino, name);
	unsigned i;
	int fd;

	for (i = 0; i < NLK_MAX_LISTENERS && t->l[i].fd >= 0; i++)
		;
	if (i == NLK_MAX_LISTENERS || strlen(name) >= sizeof(t->l[i].name))
		return;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd);	/* an entry left by a process that died */
		return;
	}
	ev.data.u32 = i;
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	strcpy(t->l[i].name, name);
	t->l[i].fd = fd;
	t->l[i].member = true;
}

unsigned nlk_transport_scan(struct nlk_transport *t, uint64_t now_us, bool force)
{
	bool seen[NLK_MAX_LISTENERS] = { false };
	unsigned members = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (force || !t->last_scan_us || now_us - t->last_scan_us >= NLK_SCAN_MS * 1000) {
		t->last_scan_us = now_us;
		if (stat(t->dir, &st) == 0 && (d = opendir(t->dir))) {
			t->dev = st.st_dev;
			t->ino = st.st_ino;
			while ((de = readdir(d))) {
				int i;

				if (strncmp(de->d_name, SHIM_NL_LISTENER_PREFIX,
					    strlen(SHIM_NL_LISTENER_PREFIX)))
					continue;
				i = find(t, de->d_name);
				if (i < 0) {
					connect_to(t, de->d_name);
					i = find(t, de->d_name);
				}
				if (i >= 0)
					seen[i] = true;
			}
			closedir(d);
		}
		/* gone from the rendezvous: left the group, but may still answer */
		for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++)
			if (t->l[i].fd >= 0 && !seen[i])
				t->l[i].member = false;
	} else {
		/* between scans, a member that leaves is seen at once: its entry goes first */
		for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++) {
			char path[PATH_MAX + 64];

			if (t->l[i].fd < 0 || !t->l[i].member)
				continue;
			snprintf(path, sizeof(path), "%s/%s", t->dir, t->l[i].name);
			if (access(path, F_OK) < 0)
				t->l[i].member = false;
		}
	}
	for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++)
		members += t->l[i].fd >= 0 && t->l[i].member;
	return members;
}

unsigned nlk_transport_multicast(struct nlk_transport *t, const void *buf, size_t len)
{
	unsigned got = 0;

	for (unsigned i = 0; i < NLK_MAX_LISTENERS; i++) {
		if (t->l[i].fd < 0 || !t->l[i].member)
			continue;
		if (send(t->l[i].fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			got++;
		else if (errno != EAGAIN)
			forget(t, i);
	}
	return got;
}

void nlk_transport_unicast(struct nlk_transport *t, unsigned i, const void *buf, size_t len)
{
	if (i < NLK_MAX_LISTENERS && t->l[i].fd >= 0 &&
	    send(t->l[i].fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len && errno != EAGAIN)
		forget(t, i);
}

int nlk_transport_poll(struct nlk_transport *t, int timeout_ms, nlk_rx_fn fn, void *arg)
{
	static uint8_t buf[SHIM_NL_DGRAM_MAX];
	struct epoll_event evs[NLK_MAX_LISTENERS];
	int n = epoll_wait(t->ep, evs, NLK_MAX_LISTENERS, timeout_ms), taken = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int e = 0; e < n; e++) {
		unsigned i = evs[e].data.u32;

		while (i < NLK_MAX_LISTENERS && t->l[i].fd >= 0) {
			ssize_t len = recv(t->l[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (len == 0 || (len < 0 && errno != EAGAIN && errno != EINTR)) {
				forget(t, i);	/* the listener closed its socket or exited */
				break;
			}
			if (len < 0)
				break;
			fn(arg, i, buf, (size_t)len);
			taken++;
		}
	}
	return taken;
}

int nlk_transport_inbox(struct nlk_transport *t, nlk_rx_fn fn, void *arg)
{
	static uint8_t buf[SHIM_NL_DGRAM_MAX];
	struct dirent *de;
	int taken = 0;
	DIR *d = opendir(t->dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];
		ssize_t len;
		int fd;

		if (strncmp(de->d_name, SHIM_NL_INBOX_PREFIX, strlen(SHIM_NL_INBOX_PREFIX)) ||
		    strstr(de->d_name, ".tmp."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		close(fd);
		if (len > 0) {
			fn(arg, NLK_MAX_LISTENERS, buf, (size_t)len);
			taken++;
		}
	}
	closedir(d);
	return taken;
}
