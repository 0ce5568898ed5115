/*
 * port_watch - follows the state of every InfiniBand port of every CA by polling it (libibumad
 * gives no port events; on hardware it reads sysfs, which the kernel keeps current), and says
 * what changed since the last poll: a port up (active, or new), down (not active, or gone), or
 * readdressed (its LID, LMC or GID changed). What to do about it is the caller's.
 */
#ifndef LOCALSA_FABRIC_PORT_WATCH_H
#define LOCALSA_FABRIC_PORT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct loop;
struct port_watch;

enum { PORT_WATCH_MAX = 64 };	/* ports followed, over every CA */

/* A port as a poll saw it. */
struct port_seen {
	char ca_name[64];
	unsigned port_num;
	bool active;		/* PortState Active, and an InfiniBand link layer */
	uint16_t lid;
	uint8_t lmc;
	union ibv_gid gid;	/* GID index 0, network order */
};

enum port_event {
	PORT_UP,		/* active now: not before, or not there */
	PORT_DOWN,		/* active before: not now, or gone */
	PORT_READDRESSED,	/* active both times, another LID, LMC or GID */
};

/* Every port there is now, up to max, into out; how many (or a negative errno). */
typedef int (*port_probe_fn)(void *arg, struct port_seen *out, size_t max);
typedef void (*port_event_fn)(void *arg, enum port_event ev, const struct port_seen *st);

/* The real probe: umad_get_cas_names() and umad_get_ca(). arg unused. */
int port_watch_probe_umad(void *arg, struct port_seen *out, size_t max);

/* A watcher polling probe every poll_ms (0: only port_watch_poll). It polls once at once,
 * telling nothing: the ports there are at start are port_watch_ports()'s to report. */
int port_watch_new(struct loop *loop, unsigned poll_ms, port_probe_fn probe, void *probe_arg,
		   port_event_fn fn, void *arg, struct port_watch **out);
void port_watch_free(struct port_watch *w);
/* Polls now; fn hears each change, in the probe's order. Returns the probe's error or 0. */
int port_watch_poll(struct port_watch *w);
/* The ports of the last poll: copies up to max, returns how many there are. */
size_t port_watch_ports(const struct port_watch *w, struct port_seen *out, size_t max);
/* A reload: the new period (0: no polling), from now on. */
void port_watch_set_period(struct port_watch *w, unsigned poll_ms);

#endif
