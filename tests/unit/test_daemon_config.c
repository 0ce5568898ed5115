/*
 * test_daemon_config.c - the config file: comments after values, every bad line reported with
 * its line number (not only the first), duplicates warned, directories and missing files named
 * as such, and the configuration unchanged unless the whole file is good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "daemon/config.h"

struct finding {
	unsigned line;
	bool error;
	char msg[256];
};

static struct finding found[16];
static unsigned n_found;

static void collect(void *arg, const char *path, unsigned line, bool error, const char *msg)
{
	if (n_found < 16) {
		found[n_found].line = line;
		found[n_found].error = error;
		snprintf(found[n_found].msg, sizeof(found[n_found].msg), "%s", msg);
	}
	n_found++;
}

static char dir[] = "/tmp/lsa_cfg_XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_good_file(void)
{
	struct config c;
	unsigned n = 0;
	const char *p = write_file("good.conf",
		"# a comment\n"
		"refresh_interval_s 300 # five minutes\n"
		"  sa_timeout_ms\t500\t\n"
		"\n"
		"control_socket /run/x#y.sock\n"		/* '#' inside a word is no comment */
		"prefetch_pkeys 0x8001, 0x8002 # two\r\n");

	config_defaults(&c);
	n_found = 0;
	CHECK_INT(0, config_load_file(&c, p, collect, NULL, &n));
	CHECK_INT(0, n_found);
	CHECK_INT(4, n);
	CHECK_INT(300, c.refresh_interval_s);
	CHECK_INT(500, c.sa_timeout_ms);
	CHECK_STR("/run/x#y.sock", c.control_socket);
	CHECK_INT(2, c.prefetch_pkeys.n);
	CHECK_INT(0x8002, c.prefetch_pkeys.v[1]);
}

static void test_every_error_reported(void)
{
	struct config c;
	const char *p = write_file("bad.conf",
		"sa_timeout_ms 500\n"
		"bogus 1\n"
		"sa_timeout_ms 700\n"
		"port\n"
		"log_level 9\n"
		"refresh_interval_s 60\n");

	config_defaults(&c);
	n_found = 0;
	CHECK_INT(-EINVAL, config_load_file(&c, p, collect, NULL, NULL));
	CHECK_INT(4, n_found);
	CHECK_INT(2, found[0].line);
	CHECK(found[0].error && strstr(found[0].msg, "unknown option 'bogus'"));
	CHECK_INT(3, found[1].line);
	CHECK(!found[1].error && strstr(found[1].msg, "first on line 1"));
	CHECK_INT(4, found[2].line);
	CHECK(found[2].error && strstr(found[2].msg, "'port' has no value"));
	CHECK_INT(5, found[3].line);
	CHECK(found[3].error);
	/* Nothing of a bad file is applied. */
	CHECK_INT(1000, c.sa_timeout_ms);
	CHECK_INT(600, c.refresh_interval_s);
}

static void test_not_a_file(void)
{
	struct config c;
	char missing[160];

	config_defaults(&c);
	n_found = 0;
	CHECK_INT(-EINVAL, config_load_file(&c, dir, collect, NULL, NULL));
	CHECK_INT(1, n_found);
	CHECK_INT(0, found[0].line);
	CHECK(strstr(found[0].msg, "directory") != NULL);
	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	n_found = 0;
	CHECK_INT(-ENOENT, config_load_file(&c, missing, collect, NULL, NULL));
	CHECK_INT(1, n_found);
	CHECK_INT(0, found[0].line);
	CHECK(strstr(found[0].msg, "No such file") != NULL);
}

static void test_long_line(void)
{
	struct config c;
	char text[3000];

	memset(text, 'x', 2000);
	strcpy(text + 2000, "\nsa_retries 5\n");
	config_defaults(&c);
	n_found = 0;
	CHECK_INT(-EINVAL, config_load_file(&c, write_file("long.conf", text), collect, NULL, NULL));
	CHECK_INT(1, n_found);	/* the long line, reported once; the next line is still read */
	CHECK_INT(1, found[0].line);
}

/* A NUL byte is an error of its own line; the next line is still read, and numbered right. A
 * leading 0 is decimal. max_stale_s stops where its milliseconds would wrap 32 bits. */
static void test_odd_bytes_and_numbers(void)
{
	static const char text[] = "log_level debug\0x\nsa_retries 5\nbogus_key 1\n";
	struct config c;
	char msg[256];
	const char *path;
	FILE *f;

	path = write_file("nul.conf", "");
	f = fopen(path, "w");
	fwrite(text, 1, sizeof(text) - 1, f);
	fclose(f);
	config_defaults(&c);
	n_found = 0;
	CHECK_INT(-EINVAL, config_load_file(&c, path, collect, NULL, NULL));
	CHECK_INT(2, n_found);
	CHECK_INT(1, found[0].line);
	CHECK(strstr(found[0].msg, "NUL") != NULL);
	CHECK_INT(3, found[1].line);
	CHECK(strstr(found[1].msg, "bogus_key") != NULL);

	config_defaults(&c);
	CHECK_INT(0, config_set(&c, "sa_retries", "010", msg, sizeof(msg)));
	CHECK_INT(10, c.sa_retries);
	CHECK_INT(0, config_set(&c, "max_stale_s", "4294967", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, config_set(&c, "max_stale_s", "4294968", msg, sizeof(msg)));
}

/* A reload's view: which options changed, with their values as text, and whether a running
 * daemon may apply them (log_level may, ca may not); the SM_Key's value never shows. */
struct change {
	char names[512];
	unsigned live, restart;
};

static void note_change(void *arg, const char *name, const char *old_value,
			const char *new_value, bool live)
{
	struct change *c = arg;
	size_t len = strlen(c->names);

	snprintf(c->names + len, sizeof(c->names) - len, "%s%s:%s>%s", len ? " " : "", name,
		 old_value, new_value);
	if (live)
		c->live++;
	else
		c->restart++;
}

static void test_diff(void)
{
	struct config a, b;
	struct change ch = { "", 0, 0 };
	char msg[128];

	config_defaults(&a);
	config_defaults(&b);
	CHECK_INT(0, config_diff(&a, &b, note_change, &ch));
	CHECK_INT(0, config_set(&b, "log_level", "3", msg, sizeof(msg)));
	CHECK_INT(0, config_set(&b, "ca", "mlx5_1", msg, sizeof(msg)));
	CHECK_INT(0, config_set(&b, "sa_sm_key", "0x1234", msg, sizeof(msg)));
	CHECK_INT(0, config_set(&b, "prefetch_pkeys", "0x8001", msg, sizeof(msg)));
	CHECK_INT(4, config_diff(&a, &b, note_change, &ch));
	CHECK_STR("ca:>mlx5_1 log_level:info>debug sa_sm_key:none>(set) "
		  "prefetch_pkeys:none>0x8001", ch.names);
	CHECK_INT(2, ch.live);
	CHECK_INT(2, ch.restart);
	CHECK_INT(0, config_copy_option(&a, &b, "log_level"));
	CHECK_INT(LOG_LVL_DEBUG, a.log_level);
	CHECK_INT(-ENOENT, config_copy_option(&a, &b, "nonsense"));

	/* distribute_to is applied by a reload, so a bad one is refused when read */
	config_defaults(&a);
	config_defaults(&b);
	CHECK_INT(-EINVAL, config_set(&b, "distribute_to", "fe80::1,nonsense", msg, sizeof(msg)));
	CHECK_STR("distribute_to: 'nonsense' is not a GID", msg);
	CHECK_STR("all", b.distribute_to);
	CHECK_INT(0, config_set(&b, "distribute_to", "fe80::1,fe80::2", msg, sizeof(msg)));
	ch = (struct change){ "", 0, 0 };
	CHECK_INT(1, config_diff(&a, &b, note_change, &ch));
	CHECK_INT(1, ch.live);
}

/* Reads are open by default; a group may be named or numbered. */
static void test_permissions(void)
{
	struct config c;
	char msg[128];

	config_defaults(&c);
	CHECK_INT(0666, c.socket_mode);
	CHECK_INT((gid_t)-1, c.socket_group);
	CHECK_INT(0, config_set(&c, "socket_group", "root", msg, sizeof(msg)));
	CHECK_INT(0, c.socket_group);
	CHECK_INT(0, config_set(&c, "socket_group", "4242", msg, sizeof(msg)));
	CHECK_INT(4242, c.socket_group);
	CHECK_INT(-EINVAL, config_set(&c, "socket_group", "no-such-group-here", msg, sizeof(msg)));
	CHECK_INT(0, config_set(&c, "socket_group", "", msg, sizeof(msg)));
	CHECK_INT((gid_t)-1, c.socket_group);
}

/* The netlink door's switch, and the default of its timeout: a miss's worst case. */
static void test_netlink(void)
{
	struct config c;
	char msg[128];

	config_defaults(&c);
	CHECK(c.netlink);
	CHECK_INT(0, c.netlink_timeout_ms);
	/* 3 attempts of 1000 ms, pauses of 1000 and 2000 ms (sa_client's doubling) */
	CHECK_INT(6000, config_miss_worst_ms(&c));
	CHECK_INT(0, config_set(&c, "netlink", "off", msg, sizeof(msg)));
	CHECK(!c.netlink);
	{
		struct change ch = { "", 0, 0 };
		struct config d0;

		config_defaults(&d0);
		CHECK_INT(1, config_diff(&d0, &c, note_change, &ch));
		CHECK_STR("netlink:on>off", ch.names);
		CHECK_INT(1, ch.restart);	/* the door is set up at start */
	}
	CHECK_INT(-EINVAL, config_set(&c, "netlink", "1", msg, sizeof(msg)));
	CHECK_STR("netlink: '1' is not on or off", msg);
	CHECK(!c.netlink);
	CHECK_INT(0, config_set(&c, "netlink", "on", msg, sizeof(msg)));
	CHECK(c.netlink);
	CHECK_INT(-EINVAL, config_set(&c, "netlink_timeout_ms", "200001", msg, sizeof(msg)));
	/* the pauses are capped by sa_backoff_max_ms, never below one attempt */
	CHECK_INT(0, config_set(&c, "sa_retries", "4", msg, sizeof(msg)));
	CHECK_INT(0, config_set(&c, "sa_backoff_max_ms", "3000", msg, sizeof(msg)));
	CHECK_INT(5000 + 1000 + 2000 + 3000 + 3000, config_miss_worst_ms(&c));
	CHECK_INT(0, config_set(&c, "sa_backoff_max_ms", "10", msg, sizeof(msg)));
	CHECK_INT(5000 + 4 * 1000, config_miss_worst_ms(&c));
	CHECK_INT(0, config_set(&c, "sa_retries", "0", msg, sizeof(msg)));
	CHECK_INT(1000, config_miss_worst_ms(&c));
}

/* ports: all, a list of CA:N (checked when set), the legacy ca/port pair as a list of one
 * while ports is all, and ignored once it is set; default_port one CA:N. */
static void test_ports(void)
{
	struct config_port p[CONFIG_PORTS_MAX];
	struct config c;
	char msg[256];
	size_t n = 9;

	config_defaults(&c);
	CHECK_STR("all", c.ports);
	CHECK_INT(500, c.port_poll_ms);
	CHECK_INT(0, config_ports(&c, p, &n, msg, sizeof(msg)));
	CHECK_INT(0, n);
	CHECK_INT(0, config_set(&c, "ports", "mlx5_0:1, mlx5_3:2", msg, sizeof(msg)));
	CHECK_INT(0, config_ports(&c, p, &n, msg, sizeof(msg)));
	CHECK_INT(2, n);
	CHECK_STR("mlx5_3", p[1].ca);
	CHECK_INT(2, p[1].port);
	CHECK_INT(-EINVAL, config_set(&c, "ports", "mlx5_0", msg, sizeof(msg)));
	CHECK_STR("'mlx5_0' is not CA:N (a CA name and a port number 1-254)", msg);
	CHECK_INT(-EINVAL, config_set(&c, "ports", "mlx5_0:0", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, config_set(&c, "ports", ",", msg, sizeof(msg)));
	CHECK_STR("mlx5_0:1, mlx5_3:2", c.ports);	/* a bad value changes nothing */
	CHECK_INT(0, config_set(&c, "default_port", "mlx5_3:2", msg, sizeof(msg)));
	CHECK_INT(-EINVAL, config_set(&c, "default_port", "mlx5_0:1,mlx5_3:2", msg, sizeof(msg)));
	/* the legacy pair: ignored with ports set, a list of one with ports all */
	CHECK_INT(0, config_set(&c, "ca", "mlx5_9", msg, sizeof(msg)));
	CHECK_INT(0, config_ports(&c, p, &n, msg, sizeof(msg)));
	CHECK_INT(2, n);
	CHECK_INT(0, config_set(&c, "ports", "all", msg, sizeof(msg)));
	CHECK_INT(0, config_ports(&c, p, &n, msg, sizeof(msg)));
	CHECK_INT(1, n);
	CHECK_STR("mlx5_9", p[0].ca);
	CHECK_INT(0, p[0].port);
}

int main(void)
{
	test_ports();
	test_diff();
	test_permissions();
	char cmd[64];
	int ret;

	if (!mkdtemp(dir))
		return 1;
	test_good_file();
	test_every_error_reported();
	test_not_a_file();
	test_odd_bytes_and_numbers();
	test_long_line();
	test_netlink();
	ret = CHECK_DONE();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return ret;
}
