/*
 * config - localsad's settings: built-in defaults, then the config file
 * (`name value` lines, like ibacm_opts.cfg), then command-line flags.
 */
#ifndef LOCALSA_DAEMON_CONFIG_H
#define LOCALSA_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <infiniband/verbs.h>

#include "base/log.h"

enum config_role { CONFIG_ROLE_STANDALONE, CONFIG_ROLE_DISTRIBUTOR, CONFIG_ROLE_RECEIVER };

#define CONFIG_LIST_MAX 16
struct config_list {               /* a comma list of numbers */
	uint64_t v[CONFIG_LIST_MAX];
	size_t n;
};

enum { CONFIG_PORTS_MAX = 32, CONFIG_PORTS_LEN = 1024 };

/* A port named in the configuration. */
struct config_port {
	char ca[64];		/* "": the first CA with an active port (legacy ca/port only) */
	unsigned port;		/* 0: the CA's first active port (legacy ca/port only) */
};

struct config {
	char ports[CONFIG_PORTS_LEN];  /* "all" or CA:N,... */
	char default_port[72];         /* CA:N; "": the first served */
	unsigned port_poll_ms;
	char ca[64];                   /* legacy: one port, when ports is all */
	unsigned port;
	char control_socket[108];
	mode_t socket_mode;
	gid_t socket_group;            /* (gid_t)-1: the daemon's */
	char shm_name[256];            /* liblocalsa's snapshot (shm_open name); "none": off */
	enum log_level log_level;
	char log_file[256];
	char ready_file[256];
	bool foreground;
	unsigned sa_timeout_ms;
	unsigned sa_retries;
	unsigned sa_credits;
	unsigned sa_backoff_max_ms;
	unsigned negative_ttl_ms;
	unsigned refresh_interval_s;
	uint32_t max_entries;
	unsigned max_clients;
	char acm_socket[108];          /* ACM door (ibacm protocol); "" for none */
	unsigned acm_tcp_port;         /* ... on 127.0.0.1 too; 0 for none */
	unsigned acm_max_clients;
	unsigned idle_timeout_s;       /* control connections doing nothing this long are closed */
	unsigned acm_idle_timeout_s;   /* ACM connections ...; 0: never */
	unsigned client_new_tuples;    /* new cache tuples a user (or a source LID) may make at once */
	unsigned client_new_tuples_per_s; /* ... and per second after that */
	unsigned sa_server;            /* register as SA-class server: Reports, SA door */
	uint16_t traps[8];             /* inform_traps */
	size_t n_traps;
	unsigned inform_refresh_s;
	unsigned sm_poll_ms;
	unsigned max_stale_s;
	uint64_t sa_sm_key;            /* the SM_Key SA-door writes must carry */
	bool sa_sm_key_set;            /* false: SA-door writes are refused */
	unsigned sa_relay;
	unsigned sa_max_set_records;
	unsigned role;                 /* enum config_role */
	char distribute_to[4096];      /* "all" or a comma list of port GIDs */
	unsigned receiver_timeout_s;
	unsigned distribute_heartbeat_ms;
	unsigned distribute_delay_ms;
	struct config_list prefetch_service_ids; /* tuples every fill loads with a GetTable too */
	struct config_list prefetch_pkeys;
	struct config_list prefetch_qos_classes;
	unsigned sa_max_queries_per_s;  /* the SA budget per daemon */
	unsigned sa_max_records_per_s;
	unsigned spread_records_per_s;  /* fabric-wide fetches: the SA load they aim at */
	unsigned spread_max_s;
	unsigned start_spread_ms;
	char push_from[1024];           /* who may write at the SA door */
	char distributor_gid[64];       /* receiver: its distributor (GID or LID), "none" */
	bool netlink;                  /* the kernel's netlink door (RDMA_NL_LS) */
	unsigned netlink_timeout_ms;   /* its SET_TIMEOUT; 0: config_miss_worst_ms() */
};

void config_defaults(struct config *c);

enum { CONFIG_PREFETCH_LISTS = 3 };
/* Prefetch list i (< CONFIG_PREFETCH_LISTS): its values, option name and the tuple field
 * (PR_TUPLE_*) its values set; name and tuple_flag may be NULL. */
const struct config_list *config_prefetch(const struct config *c, size_t i, const char **name,
					  uint8_t *tuple_flag);
/* The ports a list names, up to max into out (NULL: only checked); *n 0 for "all". -EINVAL
 * (a bad entry, explained in msg), -E2BIG. */
int config_parse_ports(const char *list, struct config_port *out, size_t max, size_t *n,
		       char *msg, size_t msglen);
/* The ports to serve, into out[CONFIG_PORTS_MAX]: *n 0 means every port. The legacy ca/port
 * pair, when set and ports is left at all, is a list of that one port. */
int config_ports(const struct config *c, struct config_port *out, size_t *n, char *msg,
		 size_t msglen);
/* One finding about a config file: line 0 is about the file itself; error false is a warning. */
typedef void (*config_diag_fn)(void *arg, const char *path, unsigned line, bool error,
			       const char *msg);
/*
 * Reads a config file of `name value` lines ('#' at a line's start or after a blank starts a
 * comment). Every line is checked and every finding reported through fn (may be NULL): errors,
 * and a warning for an option set twice (the last one counts). *c changes only when the whole
 * file is good: 0 (and *n_set, if not NULL: options the file sets), -EINVAL (some line is bad,
 * or the path is not a regular file), -errno (it cannot be read).
 */
int config_load_file(struct config *c, const char *path, config_diag_fn fn, void *arg,
		     unsigned *n_set);
/* Sets one option by name, from either source; -ENOENT unknown, -EINVAL bad value. */
int config_set(struct config *c, const char *name, const char *value, char *msg, size_t msglen);
/* Parses distribute_to: *all, or *n GIDs into a malloc'd *gids. */
int config_targets(const struct config *c, bool *all, union ibv_gid **gids, size_t *n,
		   char *msg, size_t msglen);
/* The longest a miss can wait for the SA: sa_retries + 1 attempts of sa_timeout_ms and the
 * doubling pauses between them (sa_client's backoff), in ms. */
unsigned config_miss_worst_ms(const struct config *c);
/* Writes the documented list of options (name, default, meaning; "[reload]" when a reload
 * applies a new value at once). */
void config_print_options(FILE *out);

/* One option whose value differs: live when a reload (SIGHUP) may apply it at once, else it
 * takes effect at the next start. Values are as a config file would write them. */
typedef void (*config_change_fn)(void *arg, const char *name, const char *old_value,
				 const char *new_value, bool live);
/* Calls fn for each option whose value differs between old and next; returns how many. */
size_t config_diff(const struct config *old, const struct config *next, config_change_fn fn,
		   void *arg);
/* Copies one option's value from src to dst (what a reload keeps or takes). -ENOENT. */
int config_copy_option(struct config *dst, const struct config *src, const char *name);

#endif
