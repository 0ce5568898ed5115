/*
 * mad_port - see mad_port.h. The same on hardware and on the simulator: the transport
 * below carries the MADs, the dispatcher above finds their owners.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "fabric/mad_dispatch.h"
#include "fabric/mad_port.h"
#include "fabric/umad_transport.h"

enum { RECV_BATCH = 64 };

int mad_port_new(struct mad_transport *t, struct mad_port **out)
{
	struct mad_port *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p) {
		ret = -ENOMEM;
		goto out_transport;
	}
	ret = t->ops->port_attr(t, p);
	if (ret < 0)
		goto out_free;
	ret = mad_dispatch_new(&p->dispatch);
	if (ret < 0)
		goto out_free;
	p->transport = t;
	p->fd = t->fd;
	p->sa_agent = t->sa_agent;
	p->smp_agent = t->smp_agent;
	*out = p;
	return 0;

out_free:
	free(p);
out_transport:
	t->ops->close(t);
	return ret;
}

int mad_port_open(const char *ca, int port, bool sa_server, struct mad_port **out)
{
	struct mad_transport *t;
	struct mad_port *p;
	int ret;

	ret = umad_transport_open(ca, port, sa_server, &t);
	if (ret < 0)
		return ret;
	ret = mad_port_new(t, &p);
	if (ret < 0)
		return ret;
	LOG_INFO("%s port %d: LID %u, SM LID %u", p->ca_name, p->portnum, p->lid, p->sm_lid);
	*out = p;
	return 0;
}

void mad_port_close(struct mad_port *p)
{
	if (!p)
		return;
	if (p->loop)
		loop_del_fd(p->loop, p->fd);
	mad_dispatch_free(p->dispatch);
	p->transport->ops->close(p->transport);
	free(p);
}

static void on_readable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct mad_port *p = arg;
	struct umad_msg msg;
	int ret;

	(void)loop;
	(void)fd;
	(void)events;
	/* Bounded batch so one busy port cannot starve the sockets. */
	for (int i = 0; i < RECV_BATCH; i++) {
		ret = mad_port_recv(p, &msg);
		if (ret == -EAGAIN)
			return;
		if (ret == -EMSGSIZE) {	/* dropped by the transport: read on */
			LOG_WARN_RL(10000, "a MAD too large to take was dropped");
			continue;
		}
		if (ret < 0) {
			LOG_WARN_RL(10000, "receive failed: %s", strerror(-ret));
			return;
		}
		mad_dispatch_route(p->dispatch, &msg);
	}
}

int mad_port_watch(struct mad_port *p, struct loop *loop)
{
	int ret;

	if (p->loop)
		return -EBUSY;
	ret = loop_add_fd(loop, p->fd, EPOLLIN, on_readable, p);
	if (ret < 0) {
		LOG_ERR("cannot watch the umad descriptor: %s", strerror(-ret));
		return ret;
	}
	p->loop = loop;
	return 0;
}

int mad_port_refresh(struct mad_port *p)
{
	return p->transport->ops->port_attr(p->transport, p);
}

int mad_port_ca_info(const struct mad_port *p, uint64_t *node_guid, uint8_t *num_ports)
{
	return p->transport->ops->ca_info(p->transport, node_guid, num_ports);
}

int mad_port_send(struct mad_port *p, int agent, uint16_t dlid, uint32_t dqpn,
		   const void *mad, size_t len, int timeout_ms, int retries)
{
	/* QP1 traffic goes on the SM's SL; QP0 (SMPs) on SL 0. */
	const struct mad_send s = { agent, dlid, dqpn, dqpn ? p->sm_sl : 0, mad, len,
				    timeout_ms, retries };

	return p->transport->ops->send(p->transport, &s);
}

int mad_port_recv(struct mad_port *p, struct umad_msg *msg)
{
	return p->transport->ops->recv(p->transport, msg);
}
