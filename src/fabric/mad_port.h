/*
 * mad_port - one HCA port: its addresses, whole-MAD send and receive, and the dispatcher
 * that hands each received MAD to its owner once the port is watched by the event loop.
 * Everything above this file speaks MAD bytes only; below it is a mad_transport
 * (libibumad, or a test's script).
 */
#ifndef LOCALSA_FABRIC_MAD_PORT_H
#define LOCALSA_FABRIC_MAD_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

#include "fabric/mad_transport.h"

struct loop;
struct mad_dispatch;

struct mad_port {
	int fd;                  /* for epoll; owned by the transport */
	int sa_agent;            /* SA class client (and server when enabled) */
	int smp_agent;           /* directed-route SMP client, -1 if unavailable */
	char ca_name[64];
	int portnum;
	uint16_t lid;
	uint8_t lmc;
	uint16_t sm_lid;
	uint8_t sm_sl;
	union ibv_gid gid;       /* port GID 0, network order */
	struct mad_dispatch *dispatch; /* register here for what arrives (mad_dispatch.h) */
	struct mad_transport *transport;
	struct loop *loop;       /* watching the port, or NULL */
};

/* ca NULL/"" and port 0 mean the first active port. sa_server adds a method
 * mask so unsolicited SA requests and Reports reach us. Uses libibumad. */
int mad_port_open(const char *ca, int port, bool sa_server, struct mad_port **out);
/* A port over any transport, which it owns from now on (closed on failure too). */
int mad_port_new(struct mad_transport *t, struct mad_port **out);
void mad_port_close(struct mad_port *p);
/* Puts the port in loop: from now on every MAD received goes to its owner's handler. */
int mad_port_watch(struct mad_port *p, struct loop *loop);
/* Re-reads LID, LMC, SM LID and GID from the port (sysfs on hardware). */
int mad_port_refresh(struct mad_port *p);
/* The port's CA: node GUID (host order) and number of physical ports. */
int mad_port_ca_info(const struct mad_port *p, uint64_t *node_guid, uint8_t *num_ports);
/* Sends one MAD (any length: the kernel does RMPP) to dlid/QP dqpn.
 * timeout_ms > 0 for requests that expect a response. */
int mad_port_send(struct mad_port *p, int agent, uint16_t dlid, uint32_t dqpn,
		   const void *mad, size_t len, int timeout_ms, int retries);
/* 0 and *msg, -EAGAIN when nothing is queued, other negative errno on error. For tools
 * that poll the port themselves instead of watching it. */
int mad_port_recv(struct mad_port *p, struct umad_msg *msg);

#endif
