/*
 * mad_transport - what a mad_port needs from below: whole MADs sent and received, a
 * descriptor the event loop watches, and the attributes of the port and its CA. The real
 * one is umad_transport (libibumad: the kernel on hardware, the lab's shim on the
 * simulator); unit tests script their own. Nothing above mad_port sees this seam.
 */
#ifndef LOCALSA_FABRIC_MAD_TRANSPORT_H
#define LOCALSA_FABRIC_MAD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* A received MAD; mad points into the transport's buffer until the next recv. */
struct umad_msg {
	const unsigned char *mad;
	size_t len;
	int status;              /* 0, or ETIMEDOUT for a request nobody answered */
	uint16_t slid;
	uint32_t sqpn;
	int agent;
};

/* One MAD to send; qkey and the rest of the address follow from dqpn (QP1 or QP0). */
struct mad_send {
	int agent;
	uint16_t dlid;
	uint32_t dqpn;
	uint8_t sl;
	const void *mad;
	size_t len;              /* any length: below, RMPP segments */
	int timeout_ms;          /* > 0 for a request that expects a response */
	int retries;
};

struct mad_port;
struct mad_transport;

struct mad_transport_ops {
	/* Writes the port's address fields (ca_name, portnum, lid, lmc, sm_lid, sm_sl, gid) as
	 * they are now (sysfs on hardware); the others are not touched. */
	int (*port_attr)(struct mad_transport *t, struct mad_port *p);
	/* The port's CA: node GUID (host order) and number of physical ports. */
	int (*ca_info)(struct mad_transport *t, uint64_t *node_guid, uint8_t *num_ports);
	/* 0 or negative errno. */
	int (*send)(struct mad_transport *t, const struct mad_send *s);
	/* 0 and *msg, -EAGAIN when nothing is queued, other negative errno on error. */
	int (*recv)(struct mad_transport *t, struct umad_msg *msg);
	void (*close)(struct mad_transport *t);
};

struct mad_transport {
	const struct mad_transport_ops *ops;
	int fd;                  /* readable while recv has something: for epoll */
	int sa_agent;            /* SA class client (and server when asked for) */
	int smp_agent;           /* directed-route SMP client, -1 if unavailable */
};

#endif
