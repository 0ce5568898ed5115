/* shim_port - reads this node's port GUID through libibumad (which umad2sim
 * serves from its simulated sysfs) for the shim's SMInfo answers. */
#include <infiniband/umad.h>

#include "shim_abi.h"

int shim_port_guid(uint64_t *guid_be)
{
	umad_port_t port;
	int ret = umad_get_port(NULL, 0, &port);

	if (ret < 0)
		return ret;
	*guid_be = port.port_guid;
	umad_release_port(&port);
	return 0;
}
