/*
 * nlk_transport - the kernel double's end of the lab's NETLINK_RDMA rendezvous
 * (tools/shim/shim_netlink.h): finds the sockets of its node that are members of
 * RDMA_NL_GROUP_LS, multicasts the kernel's requests to them, receives what they send the
 * kernel, unicasts acks back, and reads the kernel state kept for doubles that start later.
 */
#ifndef LOCALSA_NLK_TRANSPORT_H
#define LOCALSA_NLK_TRANSPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { NLK_MAX_LISTENERS = 16, NLK_SCAN_MS = 20 };

struct nlk_listener {
	char name[64];
	int fd;		/* -1: free slot */
	bool member;	/* its entry is still in the rendezvous (else: answers only) */
};

struct nlk_transport {
	char dir[PATH_MAX];
	dev_t dev;
	ino_t ino;
	int ep;
	struct nlk_listener l[NLK_MAX_LISTENERS];
	uint64_t last_scan_us;
};

/* dir: the node's rendezvous (LSA_SHIM_NETLINK_DIR); it may not exist yet. -errno. */
int nlk_transport_open(struct nlk_transport *t, const char *dir);
void nlk_transport_close(struct nlk_transport *t);

/* Marks the members whose entry is gone; every NLK_SCAN_MS, or when forced, also connects to
 * new ones. Returns the members (rdma_nl_chk_listeners()). */
unsigned nlk_transport_scan(struct nlk_transport *t, uint64_t now_us, bool force);

/* Sends one datagram to every member, as netlink_broadcast() does: a full queue loses it for
 * that member only. Returns the members that got it. */
unsigned nlk_transport_multicast(struct nlk_transport *t, const void *buf, size_t len);

/* Unicast to listener i (an ack). */
void nlk_transport_unicast(struct nlk_transport *t, unsigned i, const void *buf, size_t len);

/*
 * Waits up to timeout_ms (-1: forever) for datagrams from the listeners and passes each to fn
 * with the listener's index. A listener that hangs up is forgotten. Returns the datagrams
 * taken, or -errno.
 */
typedef void (*nlk_rx_fn)(void *arg, unsigned listener, const uint8_t *buf, size_t len);
int nlk_transport_poll(struct nlk_transport *t, int timeout_ms, nlk_rx_fn fn, void *arg);

/* Passes each kept kernel request (kernel-inbox.*) to fn. Returns how many. */
int nlk_transport_inbox(struct nlk_transport *t, nlk_rx_fn fn, void *arg);

#endif
