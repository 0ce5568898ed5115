/*
 * node_rec - see node_rec.h. Offsets from the IBA's NodeRecord: RID (LID 2 bytes, 2
 * reserved), then NodeInfo, whose PortGUID is at byte 20.
 */
#include <errno.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/node_rec.h"

enum { NR_LID = 0, NR_PORT_GUID = 4 + 20 };

_Static_assert(NR_PORT_GUID + 8 <= NODE_REC_LEN, "NodeRecord PortGUID offset");
_Static_assert(NODE_REC_PADDED_LEN % 8 == 0 && NODE_REC_PADDED_LEN >= NODE_REC_LEN,
	       "NodeRecord attribute offset");

void node_rec_by_port_guid(unsigned char *rec, uint64_t port_guid_be)
{
	memset(rec, 0, NODE_REC_PADDED_LEN);
	memcpy(rec + NR_PORT_GUID, &port_guid_be, sizeof(port_guid_be));
}

int node_rec_decode(const unsigned char *rec, size_t len, uint16_t *lid,
		    uint64_t *port_guid_be)
{
	if (len < NODE_REC_LEN)
		return -EMSGSIZE;
	*lid = wire_get16(rec + NR_LID);
	memcpy(port_guid_be, rec + NR_PORT_GUID, sizeof(*port_guid_be));
	return 0;
}
