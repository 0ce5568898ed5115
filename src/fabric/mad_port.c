/*
 * mad_port - libibumad wrapper: open, register agents, send, receive.
 * On real hardware the kernel segments and reassembles RMPP, tracks request
 * timeouts and routes responses; on the simulator the lab's shim does. So
 * this file is the same in both worlds and knows nothing of the simulator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/umad.h>
#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/log.h"
#include "fabric/mad_port.h"

enum { RBUF_INITIAL = 4096, RBUF_MAX = 256 << 20 };

static int port_read_info(struct mad_port *p)
{
	umad_port_t info;
	int ret = umad_get_port(p->ca_name, p->portnum, &info);

	if (ret < 0)
		return ret;
	p->lid = (uint16_t)info.base_lid;
	p->lmc = (uint8_t)info.lmc;
	p->sm_lid = (uint16_t)info.sm_lid;
	p->sm_sl = (uint8_t)info.sm_sl;
	memcpy(p->gid.raw, &info.gid_prefix, 8);
	memcpy(p->gid.raw + 8, &info.port_guid, 8);
	umad_release_port(&info);
	return 0;
}

int mad_port_open(const char *ca, int port, bool sa_server, struct mad_port **out)
{
	long sa_methods[16 / sizeof(long)] = { 0 };
	umad_port_t info;
	struct mad_port *p;
	int ret;

	if (umad_init() < 0)
		return -ENODEV;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->smp_agent = -1;
	ret = umad_get_port(ca && *ca ? ca : NULL, port, &info);
	if (ret < 0) {
		LOG_ERR("no usable InfiniBand port%s%s: %s", ca ? " on " : "", ca ? ca : "",
			strerror(-ret));
		goto out_free;
	}
	snprintf(p->ca_name, sizeof(p->ca_name), "%s", info.ca_name);
	p->portnum = info.portnum;
	umad_release_port(&info);
	ret = port_read_info(p);
	if (ret < 0)
		goto out_free;

	p->fd = umad_open_port(p->ca_name, p->portnum);
	if (p->fd < 0) {
		ret = p->fd;
		LOG_ERR("cannot open %s port %d: %s", p->ca_name, p->portnum, strerror(-ret));
		goto out_free;
	}
	if (sa_server) {
		/* Requests we serve, and Report (0x06) for InformInfo traps. */
		const int methods[] = { UMAD_METHOD_GET, UMAD_METHOD_SET, UMAD_METHOD_REPORT,
					UMAD_SA_METHOD_GET_TABLE, UMAD_SA_METHOD_GET_MULTI,
					UMAD_SA_METHOD_DELETE };
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			sa_methods[methods[i] / (8 * sizeof(long))] |=
				1L << (methods[i] % (8 * sizeof(long)));
	}
	p->sa_agent = umad_register(p->fd, UMAD_CLASS_SUBN_ADM, UMAD_SA_CLASS_VERSION,
				    UMAD_RMPP_VERSION, sa_server ? sa_methods : NULL);
	if (p->sa_agent < 0) {
		ret = p->sa_agent;
		LOG_ERR("cannot register the SA class on %s:%d: %s", p->ca_name, p->portnum,
			strerror(-ret));
		goto out_close;
	}
	p->smp_agent = umad_register(p->fd, UMAD_CLASS_SUBN_DIRECTED_ROUTE, 1, 0, NULL);
	if (p->smp_agent < 0)
		LOG_WARN("no directed-route SMP agent: the SM LID is read from the port only");
	p->rbuf_len = RBUF_INITIAL;
	p->rbuf = malloc(p->rbuf_len);
	if (!p->rbuf) {
		ret = -ENOMEM;
		goto out_close;
	}
	LOG_INFO("%s port %d: LID %u, SM LID %u", p->ca_name, p->portnum, p->lid, p->sm_lid);
	*out = p;
	return 0;

out_close:
	umad_close_port(p->fd);
out_free:
	free(p);
	return ret < 0 ? ret : -EIO;
}

void mad_port_close(struct mad_port *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		umad_close_port(p->fd);
	free(p->rbuf);
	free(p);
}

int mad_port_refresh(struct mad_port *p)
{
	return port_read_info(p);
}

int mad_port_ca_info(const struct mad_port *p, uint64_t *node_guid, uint8_t *num_ports)
{
	umad_ca_t ca;
	int ret = umad_get_ca(p->ca_name, &ca);

	if (ret < 0)
		return ret;
	*node_guid = be64toh(ca.node_guid);
	*num_ports = (uint8_t)ca.numports;
	umad_release_ca(&ca);
	return 0;
}

int mad_port_send(struct mad_port *p, int agent, uint16_t dlid, uint32_t dqpn,
		   const void *mad, size_t len, int timeout_ms, int retries)
{
	size_t total = umad_size() + len;
	void *umad;
	int ret;

	if (len < 24 || len > RBUF_MAX)
		return -EMSGSIZE;
	umad = calloc(1, total);
	if (!umad)
		return -ENOMEM;
	memcpy(umad_get_mad(umad), mad, len);
	umad_set_addr(umad, dlid, (int)dqpn, dqpn ? p->sm_sl : 0,
		      dqpn ? UMAD_QKEY : 0);
	ret = umad_send(p->fd, agent, umad, (int)len, timeout_ms, retries);
	free(umad);
	return ret < 0 ? -EIO : 0;
}

int mad_port_recv(struct mad_port *p, struct umad_msg *msg)
{
	for (;;) {
		int len = (int)(p->rbuf_len - umad_size());
		int ret = umad_recv(p->fd, p->rbuf, &len, 0);

		if (ret >= 0) {
			ib_mad_addr_t *addr = umad_get_mad_addr(p->rbuf);

			msg->mad = umad_get_mad(p->rbuf);
			msg->len = (size_t)len;
			msg->status = umad_status(p->rbuf);
			msg->slid = be16toh(addr->lid);
			msg->sqpn = be32toh(addr->qpn);
			msg->agent = ret;
			return 0;
		}
		if (ret == -ENOSPC || errno == ENOSPC) {
			size_t need = umad_size() + (size_t)len;
			unsigned char *nb;

			if (need > RBUF_MAX || need <= p->rbuf_len)
				return -EMSGSIZE;
			nb = realloc(p->rbuf, need);
			if (!nb)
				return -ENOMEM;
			p->rbuf = nb;
			p->rbuf_len = need;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || ret == -EAGAIN ||
		    ret == -EWOULDBLOCK)
			return -EAGAIN;
		return ret < 0 ? ret : -EIO;
	}
}
