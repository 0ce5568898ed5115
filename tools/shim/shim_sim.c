/*
 * shim_sim - the shim's own ibsim client. ibsim attaches a client only at the
 * first port of a node, and umad2sim shows one CA ("ibsim0") with that one
 * port, written once into a private sysfs snapshot. So the lab runs port N of
 * a multi-port CA as its own single-port ibsim node (tools/lab names it
 * "NAME~N" and passes LSA_SHIM_PORTS="N=NAME~N,...") and this file presents
 * it to the process as port N of ibsim0: sysfs entries ports/N and umad<N-1>,
 * and umad devices backed by a client attached at that node. It also keeps
 * the port files that change (state, LID, SM LID, LMC) live, for every port,
 * by asking ibsim for the port's current PortInfo whenever one is opened: the
 * kernel's sysfs is live, umad2sim's snapshot is not.
 *
 * ibsim's client protocol (ibsim.h, not installed by the Debian package) is
 * declared here as ibsim 0.10 speaks it; the sizes are pinned below.
 */
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <infiniband/umad.h>

#include "shim_abi.h"

#include "shim_sim.h"

/* --- ibsim's wire protocol ------------------------------------------------- */

enum {
	SIM_MAGIC = 0xdeadbeef,
	SIM_CTL_ERROR = 0,
	SIM_CTL_CONNECT = 1,
	SIM_CTL_DISCONNECT = 2,
	SIM_CTL_GET_NODEINFO = 7,
	SIM_CTL_GET_PORTINFO = 8,
	SIM_CTL_SET_ISSM = 9,
	SIM_CTL_GET_PKEYS = 10,
	SIM_CTL_MAX_DATA = 64,
	CTL_TIMEOUT_MS = 2000,
};

struct sim_ctl {
	uint32_t magic, clientid, type, len;
	unsigned char data[SIM_CTL_MAX_DATA];
};

struct sim_client_info {
	uint32_t id;  /* our connection id in the call, the client id in the reply */
	uint32_t qp;
	uint32_t issm;
	char nodeid[32];
};

struct sim_request {
	uint32_t dlid, slid, dqp, sqp, status; /* LIDs/QPs in network order */
	uint64_t length;                       /* MAD bytes, big endian */
	unsigned char mad[256];
};

_Static_assert(sizeof(struct sim_ctl) == 80, "ibsim control message");
_Static_assert(sizeof(struct sim_client_info) == 44, "ibsim connect data");
_Static_assert(sizeof(struct sim_request) == 288, "ibsim packet");
_Static_assert(offsetof(struct sim_request, mad) == 32, "ibsim packet header");

/* PortInfo bytes (IBA 14.2.5.6) the sysfs files show. */
enum {
	PI_GID_PREFIX = 8, PI_LID = 16, PI_SM_LID = 18, PI_CAPMASK = 20,
	PI_LOCAL_PORT = 28, PI_WIDTH_ACTIVE = 31, PI_STATE = 32, PI_PHYS = 33,
	PI_LMC = 34, PI_SPEED_ACTIVE = 35, PI_SM_SL = 36,
	NI_NODE_GUID = 12,
};

static const char CA_NAME[] = "ibsim0"; /* the one CA umad2sim creates */

/* --- state ------------------------------------------------------------------ */

struct extra_port {
	unsigned num;             /* the port number the process sees */
	char node[32];            /* the ibsim node that carries it */
	struct shim_simclient info; /* attached at setup; lent to the first open */
	bool info_lent;
	uint64_t guid_be;
};

static struct {
	pthread_mutex_t lock; /* control calls and the port table */
	struct extra_port ports[SHIM_SIM_MAX_PORTS];
	unsigned nports;
	int ctl_fd;            /* control socket for umad2sim's client (port 1) */
	atomic_int u2s_clientid; /* umad2sim's client id, -1 until seen */
	char prefix[64];       /* umad2sim's sysfs snapshot: ./sys-<pid> */
	unsigned next_conn;
} sim = { .lock = PTHREAD_MUTEX_INITIALIZER, .ctl_fd = -1, .u2s_clientid = -1 };

static int (*real_open)(const char *path, int flags, ...);
static ssize_t (*real_read)(int fd, void *buf, size_t count);
static ssize_t (*real_write)(int fd, const void *buf, size_t count);
static int (*real_close)(int fd);

static void resolve_next(void)
{
	real_open = dlsym(RTLD_NEXT, "open");
	real_read = dlsym(RTLD_NEXT, "read");
	real_write = dlsym(RTLD_NEXT, "write");
	real_close = dlsym(RTLD_NEXT, "close");
}

/* --- the control channel ------------------------------------------------------ */

/* "<IBSIM_SOCKNAME>:<suffix>" in the abstract namespace; returns its length. */
static int abstract_addr(struct sockaddr_un *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int abstract_addr(struct sockaddr_un *a, const char *fmt, ...)
{
	const char *base = getenv("IBSIM_SOCKNAME");
	size_t n;
	va_list ap;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = (size_t)snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "%s:",
			     base && *base ? base : "sim");
	va_start(ap, fmt);
	if (n < sizeof(a->sun_path) - 1)
		vsnprintf(a->sun_path + 1 + n, sizeof(a->sun_path) - 1 - n, fmt, ap);
	va_end(ap);
	/* ibsim's names carry their terminating NUL */
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1) + 1);
}

/* A datagram socket with an abstract name of its own (autobind), connected
 * to ibsim's control socket: ibsim answers each request to its sender. */
static int ctl_socket(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, (socklen_t)abstract_addr(&a, "ctl")) < 0) {
		err = -errno;
		real_close(fd);
		return err;
	}
	return fd;
}

/* One request, one answer; the caller holds sim.lock. An answer that came
 * after its call timed out is dropped first, or it would answer this one.
 * ppoll, not poll: umad2sim's poll prints an error on EINTR (a SIGCHLD in a
 * shell that reads a port file) and fails the call. */
static int ctl_call(int fd, uint32_t clientid, uint32_t type, void *data, uint32_t len)
{
	struct sim_ctl c = { .magic = SIM_MAGIC, .clientid = clientid, .type = type, .len = len };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	const struct timespec limit = { CTL_TIMEOUT_MS / 1000, CTL_TIMEOUT_MS % 1000 * 1000000L };
	struct sim_ctl stale;
	int n;

	while (recv(fd, &stale, sizeof(stale), MSG_DONTWAIT) > 0)
		;
	if (len)
		memcpy(c.data, data, len);
	if (real_write(fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		return -EIO;
	do
		n = ppoll(&p, 1, &limit, NULL);
	while (n < 0 && errno == EINTR);
	if (n != 1 || real_read(fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		return -ETIMEDOUT;
	if (c.type == SIM_CTL_ERROR)
		return -ENODEV;
	if (len)
		memcpy(data, c.data, len);
	return 0;
}

static int client_connect(struct shim_simclient *c, const char *node)
{
	struct sim_client_info info = { 0 };
	struct sockaddr_un a;
	long id = (long)(++sim.next_conn & 0x1ff) << 22 | getpid();
	int ret;

	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < 256; i++)
		c->agent_of_class[i] = -1;
	c->ctl_fd = ctl_socket();
	if (c->ctl_fd < 0)
		return c->ctl_fd;
	c->data_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->data_fd < 0) {
		ret = -errno;
		goto out_close_ctl;
	}
	if (bind(c->data_fd, (struct sockaddr *)&a, (socklen_t)abstract_addr(&a, "in%ld", id)) < 0) {
		ret = -errno;
		goto out_close_data;
	}
	info.id = (uint32_t)id;
	snprintf(info.nodeid, sizeof(info.nodeid), "%s", node);
	ret = ctl_call(c->ctl_fd, 0, SIM_CTL_CONNECT, &info, sizeof(info));
	if (ret < 0)
		goto out_close_data;
	c->clientid = info.id;
	if (connect(c->data_fd, (struct sockaddr *)&a,
		    (socklen_t)abstract_addr(&a, "out%u", c->clientid)) < 0) {
		ret = -errno;
		ctl_call(c->ctl_fd, c->clientid, SIM_CTL_DISCONNECT, NULL, 0);
		goto out_close_data;
	}
	return 0;

out_close_data:
	real_close(c->data_fd);
out_close_ctl:
	real_close(c->ctl_fd);
	c->ctl_fd = c->data_fd = -1;
	return ret;
}

static void client_disconnect(struct shim_simclient *c)
{
	if (c->ctl_fd < 0)
		return;
	ctl_call(c->ctl_fd, c->clientid, SIM_CTL_DISCONNECT, NULL, 0);
	real_close(c->data_fd);
	real_close(c->ctl_fd);
	c->ctl_fd = c->data_fd = -1;
}

/* --- sysfs ------------------------------------------------------------------ */

static void mkdirs(const char *path)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(d, 0755);
		*p = '/';
	}
	mkdir(d, 0755);
}

/* Whether the file at path holds exactly text[0..n). */
static bool file_holds(const char *path, const char *text, int n)
{
	char old[128];
	ssize_t got;
	int fd = real_open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	got = real_read(fd, old, sizeof(old));
	real_close(fd);
	return got == n && memcmp(old, text, (size_t)n) == 0;
}

/* Writes dir/name, unless it already holds that text: the live files are
 * refreshed on every open (libibumad opens 6 per umad_get_port, saquery 18),
 * and an open with O_TRUNC is a journal transaction that takes 1-4 ms on a
 * busy ext4, a read a few microseconds. */
static void put_file(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[600], text[128];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(text))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_holds(path, text, n))
		return;
	fd = real_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (real_write(fd, text, (size_t)n) != n)
		unlink(path);
	real_close(fd);
}

static const char *state_name(unsigned s)
{
	static const char *const n[] = { "NOP", "DOWN", "INIT", "ARMED", "ACTIVE", "ACTIVE_DEFER" };

	return s < 6 ? n[s] : "<unknown>";
}

static const char *phys_name(unsigned s)
{
	static const char *const n[] = { "<unknown>", "Sleep", "Polling", "Disabled",
		"PortConfigurationTraining", "LinkUp", "LinkErrorRecovery", "Phy Test" };

	return s < 8 ? n[s] : "<unknown>";
}

static unsigned be16_at(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* The files of ports/<num> that follow the port's state. */
static void put_live_files(const char *dir, const unsigned char *pi, const char *only)
{
#define WANT(f) (!only || strcmp(only, f) == 0)
	if (WANT("state"))
		put_file(dir, "state", "%u: %s\n", pi[PI_STATE] & 0xf, state_name(pi[PI_STATE] & 0xf));
	if (WANT("phys_state"))
		put_file(dir, "phys_state", "%u: %s\n", pi[PI_PHYS] >> 4, phys_name(pi[PI_PHYS] >> 4));
	if (WANT("lid"))
		put_file(dir, "lid", "0x%x\n", be16_at(pi + PI_LID));
	if (WANT("sm_lid"))
		put_file(dir, "sm_lid", "0x%x\n", be16_at(pi + PI_SM_LID));
	if (WANT("lid_mask_count"))
		put_file(dir, "lid_mask_count", "%u\n", pi[PI_LMC] & 7);
	if (WANT("sm_sl"))
		put_file(dir, "sm_sl", "%u\n", pi[PI_SM_SL] & 0xf);
#undef WANT
}

static void port_dir(char *buf, size_t len, unsigned num)
{
	snprintf(buf, len, "%s/sys/class/infiniband/%s/ports/%u", sim.prefix, CA_NAME, num);
}

/* ports/<num> and umad<num-1>, issm<num-1> for an extra port. */
static void put_port(struct extra_port *p, const unsigned char *pi, const uint16_t *pkeys)
{
	char dir[512], sub[600];
	uint64_t prefix, guid = be64toh(p->guid_be);
	unsigned width = pi[PI_WIDTH_ACTIVE], speed = pi[PI_SPEED_ACTIVE] >> 4;
	unsigned lanes = width == 1 ? 1 : width == 2 ? 4 : width == 4 ? 8 : width == 8 ? 12 : 0;

	memcpy(&prefix, pi + PI_GID_PREFIX, 8);
	prefix = be64toh(prefix);
	port_dir(dir, sizeof(dir), p->num);
	mkdirs(dir);
	put_live_files(dir, pi, NULL);
	put_file(dir, "rate", "%u Gb/sec (%uX)\n", lanes * (speed ? speed : 1) * 25 / 10, lanes);
	put_file(dir, "cap_mask", "0x%08x\n",
		 (unsigned)pi[PI_CAPMASK] << 24 | (unsigned)pi[PI_CAPMASK + 1] << 16 |
			 (unsigned)pi[PI_CAPMASK + 2] << 8 | pi[PI_CAPMASK + 3]);
	snprintf(sub, sizeof(sub), "%s/gids", dir);
	mkdirs(sub);
	put_file(sub, "0", "%04x:%04x:%04x:%04x:%04x:%04x:%04x:%04x\n",
		 (unsigned)(prefix >> 48) & 0xffff, (unsigned)(prefix >> 32) & 0xffff,
		 (unsigned)(prefix >> 16) & 0xffff, (unsigned)prefix & 0xffff,
		 (unsigned)(guid >> 48) & 0xffff, (unsigned)(guid >> 32) & 0xffff,
		 (unsigned)(guid >> 16) & 0xffff, (unsigned)guid & 0xffff);
	snprintf(sub, sizeof(sub), "%s/pkeys", dir);
	mkdirs(sub);
	for (unsigned i = 0; i < SIM_CTL_MAX_DATA / 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "%u", i);
		put_file(sub, name, "0x%04x\n", be16toh(pkeys[i]));
	}
	for (unsigned k = 0; k < 2; k++) {
		snprintf(dir, sizeof(dir), "%s/sys/class/infiniband_mad/%s%u", sim.prefix,
			 k ? "issm" : "umad", p->num - 1);
		mkdirs(dir);
		put_file(dir, "ibdev", "%s\n", CA_NAME);
		put_file(dir, "port", "%u\n", p->num);
	}
}

static int add_port(unsigned num, const char *node)
{
	struct extra_port *p;
	unsigned char pi[SIM_CTL_MAX_DATA] = { 0 }, ni[SIM_CTL_MAX_DATA];
	uint16_t pkeys[SIM_CTL_MAX_DATA / 2];
	uint64_t guid;
	int ret;

	if (sim.nports >= SHIM_SIM_MAX_PORTS || num < 2 || num > 254)
		return -EINVAL;
	p = &sim.ports[sim.nports];
	p->num = num;
	snprintf(p->node, sizeof(p->node), "%s", node);
	ret = client_connect(&p->info, node);
	if (ret < 0)
		return ret;
	if ((ret = ctl_call(p->info.ctl_fd, p->info.clientid, SIM_CTL_GET_NODEINFO, ni, sizeof(ni))) < 0 ||
	    (ret = ctl_call(p->info.ctl_fd, p->info.clientid, SIM_CTL_GET_PORTINFO, pi, sizeof(pi))) < 0 ||
	    (ret = ctl_call(p->info.ctl_fd, p->info.clientid, SIM_CTL_GET_PKEYS, pkeys, sizeof(pkeys))) < 0) {
		client_disconnect(&p->info);
		return ret;
	}
	/* ibsim's port GUIDs are the node GUID plus the port number */
	memcpy(&guid, ni + NI_NODE_GUID, 8);
	p->guid_be = htobe64(be64toh(guid) + pi[PI_LOCAL_PORT]);
	put_port(p, pi, pkeys);
	sim.nports++;
	return 0;
}

static void disconnect_all(void)
{
	pthread_mutex_lock(&sim.lock);
	for (unsigned i = 0; i < sim.nports; i++)
		client_disconnect(&sim.ports[i].info);
	sim.nports = 0;
	pthread_mutex_unlock(&sim.lock);
}

static void setup_once(void)
{
	const char *spec = getenv("LSA_SHIM_PORTS");
	char buf[512], *save = NULL;
	int fd;

	resolve_next();
	/* Let umad2sim write its snapshot first: any sysfs open does it. */
	fd = real_open("/sys/class/infiniband_mad/abi_version", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		real_close(fd);
	snprintf(sim.prefix, sizeof(sim.prefix), "./sys-%d", getpid());
	if (!spec || !*spec)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	pthread_mutex_lock(&sim.lock);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int ret;

		if (!eq)
			continue;
		*eq = '\0';
		ret = add_port((unsigned)atoi(tok), eq + 1);
		if (ret < 0)
			fprintf(stderr, "lsa_shim: port %s (ibsim node %s): %s\n", tok, eq + 1,
				strerror(-ret));
	}
	pthread_mutex_unlock(&sim.lock);
	atexit(disconnect_all);
}

void shim_sim_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, setup_once);
}

/* --- umad devices of the extra ports ------------------------------------------ */

static struct extra_port *port_of_num(unsigned num)
{
	for (unsigned i = 0; i < sim.nports; i++)
		if (sim.ports[i].num == num)
			return &sim.ports[i];
	return NULL;
}

struct shim_simclient *shim_sim_open(const char *umad_path, unsigned *portnum)
{
	struct shim_simclient *c = NULL;
	struct extra_port *p;
	unsigned dev;

	if (sscanf(umad_path, "/dev/infiniband/umad%u", &dev) != 1)
		return NULL;
	shim_sim_setup();
	pthread_mutex_lock(&sim.lock);
	p = port_of_num(dev + 1);
	if (!p)
		goto out;
	if (!p->info_lent) {
		p->info_lent = true;
		c = &p->info;
	} else if ((c = malloc(sizeof(*c))) && client_connect(c, p->node) < 0) {
		free(c);
		c = NULL;
	}
	if (c)
		*portnum = p->num;
out:
	pthread_mutex_unlock(&sim.lock);
	return c;
}

void shim_sim_close(struct shim_simclient *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&sim.lock);
	for (unsigned i = 0; i < sim.nports; i++) {
		struct extra_port *p = &sim.ports[i];

		if (c != &p->info)
			continue;
		/* back to the port, clean: no agents, not IsSM */
		ctl_call(c->ctl_fd, c->clientid, SIM_CTL_SET_ISSM, &(int){ 0 }, sizeof(int));
		memset(c->agent_used, 0, sizeof(c->agent_used));
		for (unsigned k = 0; k < 256; k++)
			c->agent_of_class[k] = -1;
		p->info_lent = false;
		pthread_mutex_unlock(&sim.lock);
		return;
	}
	client_disconnect(c);
	pthread_mutex_unlock(&sim.lock);
	free(c);
}

int shim_sim_register(struct shim_simclient *c, void *reg_req)
{
	uint32_t unused, mask[4];
	uint8_t mgmt_class;

	shim_reg_req_parse(reg_req, &unused, &mgmt_class, mask);
	for (uint32_t id = 0; id < SHIM_SIM_AGENTS; id++) {
		if (c->agent_used[id])
			continue;
		c->agent_used[id] = true;
		c->qpn_of[id] = shim_reg_req_qpn(reg_req);
		c->agent_of_class[mgmt_class] = (int)id;
		shim_reg_req_set_id(reg_req, id);
		return 0;
	}
	return -ENOMEM;
}

int shim_sim_unregister(struct shim_simclient *c, uint32_t id)
{
	if (id >= SHIM_SIM_AGENTS || !c->agent_used[id])
		return -EINVAL;
	c->agent_used[id] = false;
	for (unsigned k = 0; k < 256; k++)
		if (c->agent_of_class[k] == (int)id)
			c->agent_of_class[k] = -1;
	return 0;
}

/* As umad2sim: the agent id rides in TID bits 32-47 of a request. */
int shim_sim_send(struct shim_simclient *c, const void *umad, size_t len)
{
	const struct ib_user_mad *u = umad;
	struct sim_request r = { 0 };
	size_t n = len - sizeof(*u);
	uint64_t tid;

	if (len < sizeof(*u) + 24)
		return -EINVAL;
	if (n > sizeof(r.mad))
		n = sizeof(r.mad);
	r.dlid = u->addr.lid;
	r.slid = u->addr.lid == 0xffff ? 0xffff : 0; /* 0: ibsim fills in the port's LID */
	r.dqp = u->addr.qpn;
	r.sqp = htobe32(u->agent_id < SHIM_SIM_AGENTS ? c->qpn_of[u->agent_id] : 1);
	r.length = htobe64(n);
	memcpy(r.mad, (const unsigned char *)umad + sizeof(*u), n);
	if (!(r.mad[3] & 0x80)) {
		memcpy(&tid, r.mad + 8, 8);
		tid = be64toh(tid);
		tid = (tid & 0xffff0000ffffffffULL) | (uint64_t)(u->agent_id & 0xffff) << 32;
		tid = htobe64(tid);
		memcpy(r.mad + 8, &tid, 8);
	}
	return real_write(c->data_fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : -EIO;
}

ssize_t shim_sim_recv(struct shim_simclient *c, void *buf, size_t len)
{
	struct ib_user_mad *u = buf;
	struct sim_request r;
	ssize_t got = real_read(c->data_fd, &r, sizeof(r));
	size_t n;
	uint64_t tid;

	if (got < (ssize_t)offsetof(struct sim_request, mad) + 24 || len < sizeof(*u) + 24)
		return -EAGAIN;
	n = (size_t)got - offsetof(struct sim_request, mad);
	if (n > be64toh(r.length))
		n = be64toh(r.length);
	if (n > len - sizeof(*u))
		n = len - sizeof(*u);
	memset(u, 0, sizeof(*u));
	memcpy(&tid, r.mad + 8, 8);
	if (r.mad[3] & 0x80)
		u->agent_id = (uint32_t)(be64toh(tid) >> 32) & 0xffff;
	else
		u->agent_id = c->agent_of_class[r.mad[1]] < 0 ? 0 : (uint32_t)c->agent_of_class[r.mad[1]];
	u->status = be32toh(r.status);
	u->length = (uint32_t)(sizeof(*u) + n);
	u->addr.qpn = r.sqp;
	u->addr.lid = (uint16_t)r.slid;
	memcpy(u->data, r.mad, n);
	return (ssize_t)(sizeof(*u) + n);
}

int shim_sim_set_issm(struct shim_simclient *c, bool on)
{
	int v = on;
	int ret;

	pthread_mutex_lock(&sim.lock);
	ret = ctl_call(c->ctl_fd, c->clientid, SIM_CTL_SET_ISSM, &v, sizeof(v));
	pthread_mutex_unlock(&sim.lock);
	return ret;
}

uint64_t shim_sim_port_guid(unsigned portnum)
{
	struct extra_port *p;
	uint64_t g;

	pthread_mutex_lock(&sim.lock);
	p = port_of_num(portnum);
	g = p ? p->guid_be : 0;
	pthread_mutex_unlock(&sim.lock);
	return g;
}

/* --- live port files ----------------------------------------------------------- */

void shim_sim_snoop_write(const void *buf, size_t count)
{
	struct sim_ctl c;

	if (count != sizeof(c))
		return;
	memcpy(&c, buf, sizeof(c));
	/* umad2sim's control calls after CONNECT carry its client id */
	if (c.magic == SIM_MAGIC && c.type > SIM_CTL_DISCONNECT && c.type <= SIM_CTL_GET_PKEYS)
		atomic_store(&sim.u2s_clientid, (int)c.clientid);
}

void shim_sim_refresh(const char *path)
{
	static const char base[] = "/sys/class/infiniband/";
	unsigned char pi[SIM_CTL_MAX_DATA] = { 0 };
	char ca[32], file[32], dir[512];
	unsigned num;
	int fd, id, ret = -ENODEV;
	struct extra_port *p;

	if (strncmp(path, base, sizeof(base) - 1) != 0 ||
	    sscanf(path + sizeof(base) - 1, "%31[^/]/ports/%u/%31s", ca, &num, file) != 3 ||
	    strcmp(ca, CA_NAME) != 0 || strchr(file, '/'))
		return;
	if (strcmp(file, "state") && strcmp(file, "phys_state") && strcmp(file, "lid") &&
	    strcmp(file, "sm_lid") && strcmp(file, "lid_mask_count") && strcmp(file, "sm_sl"))
		return;
	shim_sim_setup();
	pthread_mutex_lock(&sim.lock);
	p = port_of_num(num);
	if (p) {
		fd = p->info.ctl_fd;
		id = (int)p->info.clientid;
	} else {
		id = atomic_load(&sim.u2s_clientid);
		if (num != 1 || id < 0)
			goto out;
		if (sim.ctl_fd < 0)
			sim.ctl_fd = ctl_socket();
		fd = sim.ctl_fd;
	}
	if (fd >= 0)
		ret = ctl_call(fd, (uint32_t)id, SIM_CTL_GET_PORTINFO, pi, sizeof(pi));
	if (ret == 0) {
		port_dir(dir, sizeof(dir), num);
		put_live_files(dir, pi, file);
	}
out:
	pthread_mutex_unlock(&sim.lock);
}
