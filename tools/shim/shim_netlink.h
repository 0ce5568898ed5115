/*
 * shim_netlink.h - the lab's NETLINK_RDMA rendezvous, shared by the shim (the side of the
 * processes that open the socket) and the kernel double lsa_nlkernel (the kernel's side).
 *
 * Per node, a directory named by LSA_SHIM_NETLINK_DIR (tools/lab: DIR/NODE/netlink) holds
 *  - ls.PID.N: one file per socket that is a member of RDMA_NL_GROUP_LS. Its process listens
 *    on the abstract unix SOCK_SEQPACKET address shim_nl_listener_addr() gives for that name;
 *    each connection carries netlink datagrams both ways, one datagram per packet.
 *  - kernel-inbox.TTTT: the last request (NLM_F_REQUEST) of netlink type TTTT (hex) a member
 *    sent to the kernel: the kernel's state (SET_TIMEOUT) that a double starting later applies,
 *    as the real kernel would have when the request came.
 */
#ifndef LSA_SHIM_NETLINK_H
#define LSA_SHIM_NETLINK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define SHIM_NL_DIR_ENV "LSA_SHIM_NETLINK_DIR"
#define SHIM_NL_LISTENER_PREFIX "ls."
#define SHIM_NL_INBOX_PREFIX "kernel-inbox."

/* Largest datagram carried either way (the kernel's netlink takes up to 64 KiB at once). */
enum { SHIM_NL_DGRAM_MAX = 65536 };

/*
 * The abstract address of listener entry `name` of the rendezvous directory (dev, ino): one
 * namespace per directory, so labs never meet, and no path length limit. Returns its length.
 */
static inline socklen_t shim_nl_listener_addr(struct sockaddr_un *sa, dev_t dev, ino_t ino,
					      const char *name)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "localsa-nl.%llx.%llx.%s",
		     (unsigned long long)dev, (unsigned long long)ino, name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1)
		n = (int)sizeof(sa->sun_path) - 2;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Shim-internal (hidden): close()'s hook, and the shim's trace (LSA_SHIM_DEBUG=1). */
void shim_nl_close(int fd);
void shim_vtrace(const char *fmt, va_list ap);

#endif
