/*
 * node_rec - the SA's NodeRecord as far as localsa reads it: the LID of a port, asked by its
 * port GUID. Pure: a query template and a decoder over byte buffers.
 */
#ifndef LOCALSA_WIRE_NODE_REC_H
#define LOCALSA_WIRE_NODE_REC_H

#include <stddef.h>
#include <stdint.h>

enum {
	NODE_REC_LEN = 108,              /* LID, reserved, NodeInfo (40), NodeDescription (64) */
	NODE_REC_PADDED_LEN = 112,       /* its attribute offset: 14 x 8 bytes */
	NODE_REC_CM_PORT_GUID = 1 << 8,  /* component mask bit of NodeInfo:PortGUID */
};

/* The record of a query by port GUID (network order) into rec[NODE_REC_PADDED_LEN]. */
void node_rec_by_port_guid(unsigned char *rec, uint64_t port_guid_be);
/* A record's LID (host order) and PortGUID (network order); -EMSGSIZE if len is too short. */
int node_rec_decode(const unsigned char *rec, size_t len, uint16_t *lid,
		    uint64_t *port_guid_be);

#endif
