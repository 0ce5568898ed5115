/*
 * umad_transport - see umad_transport.h. This file is the same on hardware and on the
 * simulator and knows nothing of the simulator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <infiniband/umad.h>
#include <infiniband/umad_sa.h>
#include <infiniband/umad_types.h>

#include "base/log.h"
#include "fabric/mad_port.h"
#include "fabric/mad_transport.h"
#include "fabric/umad_transport.h"
#include "wire/sa_mad.h"

/* The receive buffer grows to the largest message (up to RBUF_MAX) and is given back once it
 * holds more than RBUF_KEEP when the next message is read. */
enum { RBUF_INITIAL = 4096, RBUF_KEEP = 1 << 20, RBUF_MAX = 256 << 20 };

struct umad_transport {
	struct mad_transport t;
	char ca_name[UMAD_CA_NAME_LEN];
	int portnum;
	unsigned char *rbuf;     /* receive buffer, grows on -ENOSPC */
	size_t rbuf_len;
};

static struct umad_transport *of(struct mad_transport *t)
{
	return (struct umad_transport *)t;
}

static int port_attr(struct mad_transport *t, struct mad_port *out)
{
	struct umad_transport *u = of(t);
	umad_port_t info;
	int ret = umad_get_port(u->ca_name, u->portnum, &info);

	if (ret < 0)
		return ret;
	snprintf(out->ca_name, sizeof(out->ca_name), "%s", u->ca_name);
	out->portnum = u->portnum;
	out->lid = (uint16_t)info.base_lid;
	out->lmc = (uint8_t)info.lmc;
	out->sm_lid = (uint16_t)info.sm_lid;
	out->sm_sl = (uint8_t)info.sm_sl;
	memcpy(out->gid.raw, &info.gid_prefix, 8);
	memcpy(out->gid.raw + 8, &info.port_guid, 8);
	umad_release_port(&info);
	return 0;
}

static int ca_info(struct mad_transport *t, uint64_t *node_guid, uint8_t *num_ports)
{
	umad_ca_t ca;
	int ret = umad_get_ca(of(t)->ca_name, &ca);

	if (ret < 0)
		return ret;
	*node_guid = be64toh(ca.node_guid);
	*num_ports = (uint8_t)ca.numports;
	umad_release_ca(&ca);
	return 0;
}

static int send_mad(struct mad_transport *t, const struct mad_send *s)
{
	size_t total = umad_size() + s->len;
	void *umad;
	int ret;

	if (s->len < MAD_HDR_LEN || s->len > RBUF_MAX)
		return -EMSGSIZE;
	umad = calloc(1, total);
	if (!umad)
		return -ENOMEM;
	memcpy(umad_get_mad(umad), s->mad, s->len);
	umad_set_addr(umad, s->dlid, (int)s->dqpn, s->sl, s->dqpn ? UMAD_QKEY : 0);
	ret = umad_send(t->fd, s->agent, umad, (int)s->len, s->timeout_ms, s->retries);
	free(umad);
	return ret < 0 ? -EIO : 0;
}

/*
 * Takes a message larger than RBUF_MAX off the queue: the kernel keeps a message the buffer
 * cannot hold at the head of it, so leaving it there jammed the port - nothing behind it was
 * read, and the loop, told the fd is readable, spun. Read into pages mapped for that once
 * (only what the kernel writes is backed) and dropped. -EMSGSIZE, or -ENOMEM.
 */
static int drop_oversized(struct mad_transport *t, size_t need)
{
	void *big = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_NORESERVE, -1, 0);
	int len = (int)(need - umad_size());

	if (big == MAP_FAILED)
		return -ENOMEM;
	(void)umad_recv(t->fd, big, &len, 0);
	munmap(big, need);
	return -EMSGSIZE;
}

static int recv_mad(struct mad_transport *t, struct umad_msg *msg)
{
	struct umad_transport *u = of(t);

	if (u->rbuf_len > RBUF_KEEP) {	/* the last message's data is no longer used */
		unsigned char *nb = realloc(u->rbuf, RBUF_INITIAL);

		if (nb) {
			u->rbuf = nb;
			u->rbuf_len = RBUF_INITIAL;
		}
	}
	for (;;) {
		int len = (int)(u->rbuf_len - umad_size());
		int ret = umad_recv(t->fd, u->rbuf, &len, 0);

		if (ret >= 0) {
			ib_mad_addr_t *addr = umad_get_mad_addr(u->rbuf);

			msg->mad = umad_get_mad(u->rbuf);
			msg->len = (size_t)len;
			msg->status = umad_status(u->rbuf);
			msg->slid = be16toh(addr->lid);
			msg->sqpn = be32toh(addr->qpn);
			msg->agent = ret;
			return 0;
		}
		if (ret == -ENOSPC || errno == ENOSPC) {
			size_t need = umad_size() + (size_t)len;
			unsigned char *nb;

			if (need <= u->rbuf_len || len < 0 || (size_t)len > INT32_MAX - 4096)
				return -EMSGSIZE;
			if (need > RBUF_MAX)
				return drop_oversized(t, need);
			nb = realloc(u->rbuf, need);
			if (!nb)
				return -ENOMEM;
			u->rbuf = nb;
			u->rbuf_len = need;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || ret == -EAGAIN ||
		    ret == -EWOULDBLOCK)
			return -EAGAIN;
		return ret < 0 ? ret : -EIO;
	}
}

static void close_port(struct mad_transport *t)
{
	struct umad_transport *u = of(t);

	if (t->fd >= 0)
		umad_close_port(t->fd);
	free(u->rbuf);
	free(u);
}

static const struct mad_transport_ops umad_ops = {
	.port_attr = port_attr,
	.ca_info = ca_info,
	.send = send_mad,
	.recv = recv_mad,
	.close = close_port,
};

int umad_transport_open(const char *ca, int port, bool sa_server, struct mad_transport **out)
{
	long sa_methods[16 / sizeof(long)] = { 0 };
	struct umad_transport *u;
	umad_port_t info;
	int ret;

	if (umad_init() < 0)
		return -ENODEV;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->t.ops = &umad_ops;
	u->t.fd = -1;
	u->t.smp_agent = -1;
	ret = umad_get_port(ca && *ca ? ca : NULL, port, &info);
	if (ret < 0) {
		LOG_ERR("no usable InfiniBand port%s%s: %s", ca && *ca ? " on " : "",
			ca && *ca ? ca : "", strerror(-ret));
		goto out_free;
	}
	snprintf(u->ca_name, sizeof(u->ca_name), "%s", info.ca_name);
	u->portnum = info.portnum;
	umad_release_port(&info);

	u->t.fd = umad_open_port(u->ca_name, u->portnum);
	if (u->t.fd < 0) {
		ret = u->t.fd;
		LOG_ERR("cannot open %s port %d: %s", u->ca_name, u->portnum, strerror(-ret));
		goto out_free;
	}
	if (sa_server) {
		/* Requests we serve, and Report for InformInfo traps. */
		const int methods[] = { UMAD_METHOD_GET, UMAD_METHOD_SET, UMAD_METHOD_REPORT,
					UMAD_SA_METHOD_GET_TABLE, UMAD_SA_METHOD_GET_MULTI,
					UMAD_SA_METHOD_DELETE };
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
			sa_methods[methods[i] / (8 * sizeof(long))] |=
				1L << (methods[i] % (8 * sizeof(long)));
	}
	u->t.sa_agent = umad_register(u->t.fd, UMAD_CLASS_SUBN_ADM, UMAD_SA_CLASS_VERSION,
				      UMAD_RMPP_VERSION, sa_server ? sa_methods : NULL);
	if (u->t.sa_agent < 0) {
		ret = u->t.sa_agent;
		LOG_ERR("cannot register the SA class on %s:%d: %s", u->ca_name, u->portnum,
			strerror(-ret));
		goto out_close;
	}
	u->t.smp_agent = umad_register(u->t.fd, UMAD_CLASS_SUBN_DIRECTED_ROUTE, 1, 0, NULL);
	if (u->t.smp_agent < 0)
		LOG_WARN("no directed-route SMP agent: the SM LID is read from the port only");
	u->rbuf_len = RBUF_INITIAL;
	u->rbuf = malloc(u->rbuf_len);
	if (!u->rbuf) {
		ret = -ENOMEM;
		goto out_close;
	}
	*out = &u->t;
	return 0;

out_close:
	umad_close_port(u->t.fd);
out_free:
	free(u);
	return ret < 0 ? ret : -EIO;
}
