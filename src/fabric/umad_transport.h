/*
 * umad_transport - the mad_transport of hardware: one port opened through libibumad, with
 * an SA agent (a server too when asked: method mask for requests and Reports) and a
 * directed-route SMP agent. The kernel segments and reassembles RMPP, tracks request
 * timeouts and routes responses; on the simulator the lab's shim does the same.
 */
#ifndef LOCALSA_FABRIC_UMAD_TRANSPORT_H
#define LOCALSA_FABRIC_UMAD_TRANSPORT_H

#include <stdbool.h>

struct mad_transport;

/* ca NULL/"" and port 0 mean the first active port. */
int umad_transport_open(const char *ca, int port, bool sa_server, struct mad_transport **out);

#endif
