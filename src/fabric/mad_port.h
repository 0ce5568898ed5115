/*
 * mad_port - one HCA port opened through libibumad: its addresses, the SA
 * agent, and whole-MAD send/receive on a non-blocking descriptor that the
 * event loop watches. Everything above this file speaks MAD bytes only.
 */
#ifndef LOCALSA_FABRIC_MAD_PORT_H
#define LOCALSA_FABRIC_MAD_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/sa.h>

struct mad_port {
	int fd;                  /* for epoll; owned by libibumad */
	int sa_agent;            /* SA class client (and server when enabled) */
	int smp_agent;           /* directed-route SMP client, -1 if unavailable */
	char ca_name[64];
	int portnum;
	uint16_t lid;
	uint8_t lmc;
	uint16_t sm_lid;
	uint8_t sm_sl;
	union ibv_gid gid;       /* port GID 0, network order */
	unsigned char *rbuf;     /* receive buffer, grows on -ENOSPC */
	size_t rbuf_len;
};

/* A received MAD; mad points into the port's buffer until the next recv. */
struct umad_msg {
	const unsigned char *mad;
	size_t len;
	int status;              /* 0, or ETIMEDOUT for a request nobody answered */
	uint16_t slid;
	uint32_t sqpn;
	int agent;
};

/* ca NULL/"" and port 0 mean the first active port. sa_server adds a method
 * mask so unsolicited SA requests and Reports reach us. */
int mad_port_open(const char *ca, int port, bool sa_server, struct mad_port **out);
void mad_port_close(struct mad_port *p);
/* Re-reads LID, SM LID and GID from the port (sysfs on hardware). */
int mad_port_refresh(struct mad_port *p);
/* The port's CA: node GUID (host order) and number of physical ports. */
int mad_port_ca_info(const struct mad_port *p, uint64_t *node_guid, uint8_t *num_ports);
/* Sends one MAD (any length: the kernel does RMPP) to dlid/QP dqpn.
 * timeout_ms > 0 for requests that expect a response. */
int mad_port_send(struct mad_port *p, int agent, uint16_t dlid, uint32_t dqpn,
		   const void *mad, size_t len, int timeout_ms, int retries);
/* 0 and *msg, -EAGAIN when nothing is queued, other negative errno on error. */
int mad_port_recv(struct mad_port *p, struct umad_msg *msg);

#endif
