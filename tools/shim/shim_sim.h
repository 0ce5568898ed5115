/*
 * shim_sim - the shim's own ibsim client: ports 2..N of this node's CA, which
 * umad2sim cannot serve, and the live port state umad2sim's sysfs snapshot
 * lacks. Lab only: on hardware the kernel's umad devices and sysfs do this.
 */
#ifndef LSA_SHIM_SIM_H
#define LSA_SHIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { SHIM_SIM_MAX_PORTS = 8, SHIM_SIM_AGENTS = 32 };

/* One attachment to ibsim: a control and a data socket, one simulator slot. */
struct shim_simclient {
	int ctl_fd, data_fd;
	uint32_t clientid;
	uint8_t qpn_of[SHIM_SIM_AGENTS]; /* agent id -> QP (0 for SMPs, else 1) */
	bool agent_used[SHIM_SIM_AGENTS];
	int agent_of_class[256];	  /* requests go to the agent of their class */
};

/* Called before any sysfs or umad device access: adds the extra ports. */
void shim_sim_setup(void);

/* The umad device number umad2sim does not know: its port's client, else NULL. */
struct shim_simclient *shim_sim_open(const char *umad_path, unsigned *portnum);
void shim_sim_close(struct shim_simclient *c);

/* The kernel's umad ABI on top of one client (umad header + MAD). */
int shim_sim_register(struct shim_simclient *c, void *reg_req);
int shim_sim_unregister(struct shim_simclient *c, uint32_t id);
int shim_sim_send(struct shim_simclient *c, const void *umad, size_t len);
ssize_t shim_sim_recv(struct shim_simclient *c, void *buf, size_t len);
int shim_sim_set_issm(struct shim_simclient *c, bool on);
uint64_t shim_sim_port_guid(unsigned portnum); /* network order; 0 if unknown */

/* Before a sysfs port file is read: rewrites it from the simulator's state. */
void shim_sim_refresh(const char *path);

/* Sees every write the process makes outside the shim's handles: learns
 * umad2sim's client id from its control messages, for port 1's live state. */
void shim_sim_snoop_write(const void *buf, size_t count);

#endif
