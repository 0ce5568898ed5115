/*
 * informer - InformInfo subscriptions at the master SA and the Reports
 * (traps) that come back. Subscriptions are (re)sent at start, periodically
 * (OpenSM forgets them on restart unless it keeps its SA database) and after
 * an SM change; removed at clean exit with QPN 1. Every Report is answered
 * with a ReportResp before it is acted on, so the SA does not resend it.
 *
 * Reports are accepted only from the master SM's LID as the port knows it
 * (the SM tracker keeps it current). Nothing else authenticates them: the SA
 * signs no Report (OpenSM leaves the SM_Key of its Reports 0; M_Key guards
 * SMPs, not SA MADs), so the source LID, which the sender's HCA stamps, is
 * the one check there is. A Report from another LID is counted, logged and
 * neither answered nor acted on (an SM that really moved resends it until
 * the tracker knows the new LID; on_refused lets the owner look at once).
 */
#ifndef LOCALSA_FABRIC_INFORMER_H
#define LOCALSA_FABRIC_INFORMER_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct json;
struct loop;
struct mad_port;
struct sa_client;
struct informer;

enum { INFORMER_MAX_TRAPS = 8 };

/* gid is the GID the trap is about (traps 64-67), or NULL; tid the Report's (low 32 bits):
 * the SM numbers its Reports, which tells a resent one from a new one. */
typedef void (*trap_fn)(void *arg, uint16_t trap, const union ibv_gid *gid, uint32_t tid);

struct informer_stats {
	uint64_t reports, duplicates, malformed;
	uint64_t refused;                    /* from a LID other than the master SM's */
	uint64_t traps[INFORMER_MAX_TRAPS];  /* by position in the configured list */
	uint64_t subscribe_sent, subscribe_ok, subscribe_failed;
	unsigned subscribed;                 /* traps currently subscribed */
};

/* Takes the port's SA Reports (its dispatcher's, -EEXIST if another owner has them). */
int informer_new(struct loop *loop, struct mad_port *port, struct sa_client *sa,
		 const uint16_t *traps, size_t n_traps, unsigned refresh_s, trap_fn fn, void *arg,
		 struct informer **out);
void informer_free(struct informer *inf);
/* (Re)sends every subscription now. */
void informer_subscribe(struct informer *inf);
/* fn runs after a Report from a LID other than the SM's was refused (e.g. to check where
 * the SM is: its LID may have changed). */
void informer_on_refused(struct informer *inf, void (*fn)(void *arg, uint16_t slid),
			 void *arg);
/* Sends every unsubscription; done runs when all are answered or failed. */
void informer_unsubscribe(struct informer *inf, void (*done)(void *arg), void *arg);
void informer_stats(const struct informer *inf, struct informer_stats *out);
/* Its members of the stats object ("traps" by number, "reports", "subscriptions", ...);
 * a NULL informer (no traps configured) writes them empty and zero. */
void informer_stats_json(const struct informer *inf, struct json *j);

#endif
