/* SPDX-License-Identifier: MIT */
/* vigild: loads the configuration, brings up the EAL, the port, the stream
 * table, the recorder and the workers, runs until the capture ends or a
 * signal arrives, then drains everything and prints the JSON summary.
 * Shutdown mirrors startup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "admin.h"
#include "cameras.h"
#include "cluster.h"
#include "commands.h"
#include "crypto.h"
#include "eal.h"
#include "events.h"
#include "handshakes.h"
#include "keystore.h"
#include "metrics.h"
#include "playback.h"
#include "port.h"
#include "recorder.h"
#include "state.h"
#include "storage.h"
#include "summary.h"
#include "workers.h"

#define EXIT_CONFIG 1
#define EXIT_RUNTIME 2
#define CLUSTER_START_WAIT_MS 10000 /* etcd's cameras before traffic, or start without them */

static volatile bool stop;
static volatile sig_atomic_t reload, report;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else if (sig == SIGUSR1)
		report = 1;
	else
		stop = true;
}

/* One line of JSON on stderr: the summary so far. */
static void report_stats(const struct vigil_commands *k)
{
	json_t *summary = vigil_summary(k->cams, k->ws->w, k->ws->n, k->rec, k->hs);

	if (summary == NULL)
		return;
	fputs("vigild: stats ", stderr);
	json_dumpf(summary, stderr, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', stderr);
	json_decref(summary);
}

/* Camera settings reach the recorder through here only (cams.on_settings). */
static void recorder_settings(void *rec, unsigned slot, const struct vigil_camera_config *cam)
{
	int rc = vigil_recorder_configure(rec, slot, cam);

	if (rc < 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: camera %s: the recorder keeps its former settings (OwnerKey, retention): %s\n",
			cam->name, strerror(-rc));
}

/* The control loop while the workers run: configuration reloads on
 * SIGHUP, counters on SIGUSR1, the end of key rotation grace periods and
 * spent keys, the replay state once a second, camera handshakes and the
 * admin socket. Handshake packets
 * are taken without a pause while they come (a flood must not fill their
 * ring while the loop sleeps), each turn serving the rest too; after a
 * turn that found none it sleeps on the admin socket for a millisecond, a
 * handshake's longest wait. */
/* systemd (Type=notify, vigild.service): READY=1 once the workers run, a
 * STATUS= line, and, under WatchdogSec, WATCHDOG=1 at half of it while
 * every worker passes a quiescent state (each does between bursts, for the
 * stream table's RCU): a worker stuck in a loop stops the pings and
 * systemd restarts vigild. Without NOTIFY_SOCKET, nothing. */
struct notify {
	bool status;	      /* NOTIFY_SOCKET is set: someone reads the STATUS line */
	uint64_t watchdog_ns; /* 0: no watchdog */
	uint64_t next_ns;
	uint64_t token; /* of the RCU check in progress */
	struct rte_rcu_qsbr *qsbr;
};

static void notify_second(struct notify *n, const struct vigil_commands *k, uint64_t now)
{
	uint64_t total[VIGIL_CTR_MAX];
	struct vigil_recorder_stats rec_total;
	unsigned online = 0;

	if (n->watchdog_ns != 0 && now >= n->next_ns) {
		/* rte_rcu_qsbr_check, not waiting: have all passed since the token? */
		if (rte_rcu_qsbr_check(n->qsbr, n->token, false) == 1) {
			sd_notify(0, "WATCHDOG=1");
			n->token = rte_rcu_qsbr_start(n->qsbr);
		}
		n->next_ns = now + n->watchdog_ns / 2;
	}
	if (!n->status)
		return; /* not walking every camera each second for nobody */
	vigil_summary_walk(k->cams, k->ws->w, k->ws->n, k->rec, total, &rec_total, NULL, NULL);
	for (unsigned i = 0; i < k->cams->cfg->n_cameras; i++)
		online += vigil_cameras_liveness(k->cams, i, now) == VIGIL_LIVENESS_online;
	sd_notifyf(0, "STATUS=%u of %u camera(s) online; %llu packets, %llu decrypted, %llu frames recorded", online,
		   k->cams->cfg->n_cameras, (unsigned long long)total[VIGIL_CTR_rx_packets],
		   (unsigned long long)total[VIGIL_CTR_decrypted], (unsigned long long)rec_total.frames_recorded);
}

static void control_loop(struct vigil_commands *k, struct vigil_handshakes *hs, struct vigil_admin *admin,
			 struct vigil_metrics *metrics, struct vigil_events *events, struct vigil_recorder *rec,
			 struct rte_rcu_qsbr *qsbr)
{
	const uint64_t tick_ns = 20000000u; /* the tick walks every camera */
	uint64_t next_tick = 0, next_second = 0, usec = 0;
	struct notify n = {.qsbr = qsbr, .status = getenv("NOTIFY_SOCKET") != NULL};
	char msg[6144];

	if (sd_watchdog_enabled(0, &usec) > 0 && qsbr != NULL) {
		n.watchdog_ns = usec * 1000;
		n.token = rte_rcu_qsbr_start(qsbr);
	}
	sd_notify(0, "READY=1");

	while (!vigil_workers_done(k->ws)) {
		uint64_t now = vigil_now_ns();
		unsigned taken = 0;
		int wait_ms;

		if (reload) {
			reload = 0;
			vigil_log(vigil_cameras_reload(k->cams, msg, sizeof(msg)) < 0 ? VIGIL_LOG_ERR : VIGIL_LOG_NOTICE,
				  "vigild: %s\n", msg);
		}
		if (report) {
			report = 0;
			report_stats(k);
		}
		if (now >= next_tick) {
			vigil_cameras_tick(k->cams, hs != NULL && vigil_handshakes_under_load(hs));
			vigil_stream_sessions(k->cams->table);
			next_tick = now + tick_ns;
		}
		if (now >= next_second) {
			vigil_cameras_second(k->cams);
			if (events != NULL)
				vigil_events_second(events, rec, k->up);
			notify_second(&n, k, now);
			next_second = now + 1000000000u;
		}
		if (events != NULL)
			vigil_events_poll(events, rec);
		if (vigil_cluster_poll(k->cluster, events) && !*k->stop) {
			vigil_log(VIGIL_LOG_NOTICE, "vigild: drained: no packet of its cameras for a few seconds, its flows "
						    "moved; stopping\n");
			*k->stop = true;
		}
		vigil_metrics_serve(metrics, k);
		if (hs != NULL)
			taken = vigil_handshakes_poll(hs);
		wait_ms = taken > 0 ? 0 : hs != NULL ? 1 : 20;
		if (admin != NULL)
			vigil_admin_serve(admin, wait_ms, vigil_commands_run, k);
		else if (wait_ms > 0)
			usleep((useconds_t)wait_ms * 1000);
	}
}

struct options {
	const char *config;
	const char *pcap;
	const char *record_dir;
	const char *eal;
	const char *admin;
	const char *audit;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vigild --config FILE [--pcap CAPTURE] [--record-dir DIR] [--admin SOCKET|none]\n"
		     "              [--eal \"ARGS\"]\n"
		     "\n"
		     "  --config FILE      vigil.conf (INI): [Ingest] and one [Camera] per camera\n"
		     "  --pcap CAPTURE     ingest a capture file instead of the live Device, stop at\n"
		     "                     its end, print a JSON summary on stdout\n"
		     "  --record-dir DIR   record into DIR instead of the configured RecordDir\n"
		     "  --admin SOCKET     the admin socket for vigilctl, live only (default\n"
		     "                     " VIGIL_ADMIN_DEFAULT_SOCKET "; none: no socket)\n"
		     "  --audit FILE       where changes made through it are recorded (default\n"
		     "                     " VIGIL_ADMIN_DEFAULT_AUDIT ")\n"
		     "  --eal \"ARGS\"       extra DPDK EAL arguments (never needed normally)\n"
		     "  --version          print vigild's version\n"
		     "\n"
		     "Live, vigild runs until SIGINT or SIGTERM, then drains, closes the\n"
		     "recordings and prints the same summary. SIGHUP re-reads the\n"
		     "configuration and applies camera changes (add, key rotation, revoke)\n"
		     "without a restart; SIGUSR1 prints the counters so far on stderr.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"pcap", required_argument, NULL, 'p'},
		{"record-dir", required_argument, NULL, 'r'}, {"eal", required_argument, NULL, 'e'},
		{"admin", required_argument, NULL, 'a'}, {"audit", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	o->admin = VIGIL_ADMIN_DEFAULT_SOCKET;
	o->audit = VIGIL_ADMIN_DEFAULT_AUDIT;
	while ((opt = getopt_long(argc, argv, "c:p:r:e:a:A:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': o->admin = optarg; break;
		case 'A': o->audit = optarg; break;
		case 'c': o->config = optarg; break;
		case 'p': o->pcap = optarg; break;
		case 'r': o->record_dir = optarg; break;
		case 'e': o->eal = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("vigild %s\n", VIGIL_VERSION); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind != argc || o->config == NULL) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* net_pcap hands us the capture's bytes as they are: they must be
 * Ethernet frames, not Linux "cooked" (tcpdump -i any) or raw IP. */
static int check_capture(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	int linktype;

	if (p == NULL) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s: not a readable capture: %s\n", path, err);
		return -EINVAL;
	}
	linktype = pcap_datalink(p);
	pcap_close(p);
	if (linktype != DLT_EN10MB) {
		vigil_log(VIGIL_LOG_ERR,
			"vigild: %s: link type %s, not Ethernet; capture on one interface "
			"(tcpdump -i eth0), not on 'any'\n",
			path, pcap_datalink_val_to_name(linktype) ? pcap_datalink_val_to_name(linktype) : "unknown");
		return -EINVAL;
	}
	return 0;
}

/* Cameras added through the admin socket, kept in the Keystore: read
 * and authenticated before anything starts, into *stored (*n of them);
 * they join the file's once the stream table is up
 * (vigil_cameras_keystore). The master key stays in locked memory (*key)
 * to write the keystore again. */
static int load_keystore(const struct vigil_config *cfg, uint8_t **key, struct vigil_camera_config **stored,
			 unsigned *n)
{
	const char *key_file = getenv("VIGIL_KEYSTORE_KEY_FILE");
	char msg[1024];
	int rc;

	if (cfg->keystore[0] == '\0' && cfg->cluster.etcd[0] == '\0')
		return 0;
	if (key_file == NULL || key_file[0] == '\0')
		key_file = cfg->keystore_key_file;
	*key = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	if (*key == NULL)
		return -ENOMEM;
	rc = vigil_keystore_key_read(key_file, *key, msg, sizeof(msg));
	/* A cluster's records are sealed under it; it has no keystore file. */
	if (rc == 0 && cfg->cluster.etcd[0] == '\0') {
		rc = vigil_keystore_load(cfg->keystore, *key, stored, n, msg, sizeof(msg));
		if (rc == -ENOENT) {
			vigil_log(VIGIL_LOG_INFO, "vigild: keystore %s: none yet, made at the first vigilctl camera add\n",
				cfg->keystore);
			return 0;
		}
	}
	if (rc < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
	return rc;
}

static void free_stored(struct vigil_camera_config **stored, unsigned *n)
{
	if (*stored != NULL)
		sodium_memzero(*stored, *n * sizeof(**stored));
	free(*stored);
	*stored = NULL;
	*n = 0;
}

/* A recording camera holds one descriptor, its segment; while the segment
 * is cut, up to three (the next one's, and its folder's for an fsync), so
 * MaxCameras cameras cutting together want about three times as many open
 * files. The EAL raises the soft limit to the hard one, which may be far
 * lower (a container's, a shell's ulimit -n): the recorder's writers keep
 * under it (new segments wait for a descriptor, frames queue, then drop as
 * recorder_dropped), but the headroom is lost. Raised here when allowed
 * (root may raise the hard limit), else said once at start. */
static void raise_open_files(const struct vigil_config *cfg)
{
	rlim_t need = (rlim_t)cfg->max_cameras * 3 + 1024;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	if (setrlimit(RLIMIT_NOFILE, &(struct rlimit){need, rl.rlim_max > need ? rl.rlim_max : need}) == 0)
		return;
	vigil_log(VIGIL_LOG_WARNING,
		"vigild: open files are limited to %llu (RLIMIT_NOFILE) and cannot be raised: MaxCameras = %u needs "
		"up to %llu (three a camera while its segment is cut); under that, new segments wait for a "
		"descriptor and frames may be dropped (recorder_dropped): raise the limit (systemd: "
		"LimitNOFILE=) or lower MaxCameras\n",
		(unsigned long long)rl.rlim_max, cfg->max_cameras, (unsigned long long)need);
}

/* What the configuration must say for this way of running. */
static int check_config(struct vigil_config *cfg, const struct options *o)
{
	/* Live, the replay state always persists; a capture run only when
	 * asked to, so a capture can be replayed again. */
	if (o->pcap == NULL && cfg->state_dir[0] == '\0')
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", VIGIL_DEFAULT_STATE_DIR);
	if (o->record_dir != NULL)
		snprintf(cfg->record_dir, sizeof(cfg->record_dir), "%s", o->record_dir);
	if (cfg->record_dir[0] == '\0') {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s: [Ingest] has no RecordDir and --record-dir was not given\n",
			cfg->path);
		return -EINVAL;
	}
	if (o->pcap == NULL && cfg->device[0] == '\0') {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s: [Ingest] has no Device (needed unless --pcap is given)\n", cfg->path);
		return -EINVAL;
	}
	if (o->pcap != NULL)
		return check_capture(o->pcap);
	return 0;
}

int main(int argc, char **argv)
{
	struct options opts = {0};
	struct vigil_config cfg;
	struct vigil_eal_args eal;
	struct vigil_port port = {0};
	struct vigil_workers workers = {0};
	struct vigil_stream_table *streams;
	struct vigil_recorder *rec;
	struct vigil_uploader *up = NULL;
	struct vigil_cameras cams = {0};
	struct vigil_neigh neigh;
	struct rte_ether_addr mac;
	struct vigil_admin *admin = NULL;
	struct vigil_metrics *metrics = NULL;
	struct vigil_playback *playback = NULL;
	struct vigil_events *events = NULL;
	struct vigil_commands cmds = {0};
	struct vigil_handshakes *hs = NULL;
	struct vigil_state *state = NULL;
	struct vigil_cluster *cluster = NULL;
	struct vigil_crypto crypto = {0};
	uint8_t *keystore_key = NULL;
	struct vigil_camera_config *stored = NULL;
	unsigned n_stored = 0;
	char msg[1024];
	json_t *summary;
	int rc, status = EXIT_RUNTIME;
	bool spool_left = false;

	/* Before any key is read: no core dump, and no ptrace but root's
	 * (CAP_SYS_PTRACE), of a process holding camera keys. It also makes
	 * /proc/<pid>/ root's. README: Keys in memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: cannot turn core dumps off (%s): a crash may leave the keys on disk\n",
			strerror(errno));
	vigil_admin_wipe_json(); /* before any jansson call */
	if (parse_options(argc, argv, &opts) < 0)
		return EXIT_CONFIG;
	if (sodium_init() < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: libsodium cannot start\n");
		return EXIT_RUNTIME;
	}
	if (vigil_config_load(&cfg, opts.config, msg, sizeof(msg)) < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
		return EXIT_CONFIG;
	}
	if (check_config(&cfg, &opts) < 0 || load_keystore(&cfg, &keystore_key, &stored, &n_stored) < 0) {
		free_stored(&stored, &n_stored);
		sodium_free(keystore_key);
		vigil_config_free(&cfg);
		return EXIT_CONFIG;
	}
	raise_open_files(&cfg);
	if (vigil_srtp_available() < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: this CPU lacks AES-NI/PCLMUL, which AEAD_AES_256_GCM needs\n");
		goto err_config;
	}
	rc = vigil_eal_build(&eal, cfg.workers, cfg.idle_sleep_us > 0 && opts.pcap == NULL, cfg.max_cameras, cfg.device,
			     opts.pcap, opts.eal, msg, sizeof(msg));
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
		goto err_config;
	}
	vigil_log(VIGIL_LOG_INFO, "vigild: %s\n", eal.memory);
	vigil_log(VIGIL_LOG_INFO, "vigild: %s\n", eal.lcores);
	if (rte_eal_init(eal.argc, eal.argv) < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot start DPDK: %s\n", rte_strerror(rte_errno));
		goto err_config;
	}
	vigil_eal_dontdump();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGUSR1, on_signal);

	rc = vigil_crypto_open(&crypto, &cfg, msg, sizeof(msg));
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: Crypto: %s\n", msg);
		status = EXIT_CONFIG;
		goto err_eal;
	}
	if (msg[0] != '\0')
		vigil_log(VIGIL_LOG_NOTICE, "vigild: %s\n", msg);
	rc = vigil_port_start(&port, cfg.workers, cfg.max_cameras, msg, sizeof(msg));
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s: %s\n", opts.pcap ? opts.pcap : cfg.device, msg);
		goto err_eal;
	}
	/* ARP/NDP replies carry the port's own address (af_packet: the
	 * interface's); with no [Ingest] Address nothing is answered. */
	rc = rte_eth_macaddr_get(port.id, &mac);
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot read the port's MAC address: %s\n", rte_strerror(-rc));
		goto err_port;
	}
	vigil_neigh_init(&neigh, &cfg, &mac);
	rc = vigil_workers_create(&workers, cfg.workers, cfg.recorders, cfg.handshake_port != 0 && !opts.pcap, msg,
				  sizeof(msg));
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
		goto err_workers;
	}
	streams = vigil_stream_table_create("vigil_streams", cfg.max_cameras, cfg.workers, cfg.recorders, cfg.max_frame_bytes,
					    port.mbufs, workers.frames);
	if (streams == NULL) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot build the stream table: %s\n", strerror(errno));
		goto err_workers;
	}
	vigil_stream_table_crypto(streams, crypto.cryptodev ? &crypto.dev : NULL);
	streams->retransmit_hold_ms = cfg.retransmit_hold_ms;
	/* A live cluster node takes a camera only while it owns it; a capture
	 * run records what it is given (docs/cluster.md). */
	streams->ownership = cfg.cluster.etcd[0] != '\0' && opts.pcap == NULL;
	if (cfg.state_dir[0] != '\0') {
		state = vigil_state_open(cfg.state_dir, msg, sizeof(msg));
		if (state == NULL) {
			vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
			status = EXIT_CONFIG;
			goto err_streams;
		}
	}
	rc = vigil_cameras_init(&cams, &cfg, streams, state, msg, sizeof(msg));
	if (rc == 0 && keystore_key != NULL && cfg.keystore[0] != '\0')
		rc = vigil_cameras_keystore(&cams, keystore_key, stored, n_stored, msg, sizeof(msg));
	free_stored(&stored, &n_stored);
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
		status = EXIT_CONFIG;
		goto err_streams;
	}
	if (state != NULL) {
		struct vigil_state_stats ss;

		vigil_state_stats(state, &ss);
		vigil_log(VIGIL_LOG_INFO,
			"vigild: replay state in %s: %u camera(s) continue from their persisted index (%llu record(s) read)\n",
			cfg.state_dir, cams.resumed, (unsigned long long)ss.loaded);
	} else {
		vigil_log(VIGIL_LOG_INFO, "vigild: no StateDir: replay state is not kept (cameras are locked onto by trial)\n");
	}
	if (workers.to_control != NULL) {
		hs = vigil_handshakes_create(&cams, &neigh, workers.to_control, workers.to_control_proven,
					     workers.from_control, msg, sizeof(msg));
		if (hs == NULL) {
			vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
			goto err_streams;
		}
		workers.hs_cookie = vigil_handshakes_cookie(hs);
		vigil_log(VIGIL_LOG_INFO, "vigild: camera handshakes on UDP port %u\n", cfg.handshake_port);
	}
	/* Live only: a capture run has no one to tell. */
	if (opts.pcap == NULL) {
		events = vigil_events_create(&cams, msg, sizeof(msg));
		if (events == NULL) {
			vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
			status = EXIT_CONFIG;
			goto err_streams;
		}
		if (cfg.event_hook[0] != '\0')
			vigil_log(VIGIL_LOG_INFO, "vigild: events POSTed to %s (a queue of %u)\n", cfg.event_hook, cfg.event_queue);
	}
	if (cfg.storage.endpoint[0] != '\0') {
		up = vigil_storage_open(&cfg, msg, sizeof(msg));
		if (up == NULL) {
			vigil_log(VIGIL_LOG_ERR, "vigild: [Storage]: %s\n", msg);
			status = EXIT_CONFIG;
			goto err_streams;
		}
		vigil_log(VIGIL_LOG_INFO, "vigild: segments and playlists uploaded to %s/%s/%s<camera>/%s/ (%s)\n",
			  cfg.storage.endpoint, cfg.storage.bucket, cfg.storage.prefix, cfg.storage.node,
			  cfg.storage.keep_local ? "kept on disk too" : "the disk a spool");
	}
	/* A cluster node's cameras: what etcd holds, before traffic is taken,
	 * and before the recorder starts: it recovers what a crash left of
	 * every camera it knows then, whether or not its packets come here. */
	if (cfg.cluster.etcd[0] != '\0') {
		cluster = vigil_cluster_open(&cfg, keystore_key, msg, sizeof(msg));
		if (cluster == NULL) {
			vigil_log(VIGIL_LOG_ERR, "vigild: [Cluster]: %s\n", msg);
			status = EXIT_CONFIG;
			goto err_streams;
		}
		if (hs != NULL)
			vigil_handshakes_publish(hs, &(struct vigil_hs_publisher){.begin = vigil_cluster_handshake_begin,
										  .done = vigil_cluster_handshake_done,
										  .owns = vigil_cluster_handshake_owns,
										  .arg = cluster});
		rc = vigil_cluster_start(cluster, &cams, CLUSTER_START_WAIT_MS);
		if (rc == -EIO)
			vigil_log(VIGIL_LOG_ERR, "vigild: cluster node %s: etcd (%s) did not answer within %u s: starting "
						 "without cameras; they are applied when it answers\n",
				  cfg.cluster.node, cfg.cluster.etcd, CLUSTER_START_WAIT_MS / 1000);
		else if (rc < 0) {
			vigil_log(VIGIL_LOG_ERR, "vigild: [Cluster]: cannot start its threads: %s\n", strerror(-rc));
			goto err_streams;
		} else
			vigil_log(VIGIL_LOG_INFO, "vigild: cluster node %s: %u camera(s) from etcd (%s, under %s)\n",
				  cfg.cluster.node, cfg.n_cameras, cfg.cluster.etcd, cfg.cluster.prefix);
	}
	rec = vigil_recorder_create(&cfg, cfg.max_frame_bytes, up);
	if (rec == NULL) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot record into %s: %s\n", cfg.record_dir, strerror(errno));
		goto err_streams;
	}
	/* After the recorder's crash recovery: what the spool holds now. */
	if (up != NULL && (rc = vigil_uploader_start(up)) < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot start the uploader: %s\n", strerror(-rc));
		goto err_recorder;
	}
	cams.on_settings = recorder_settings;
	cams.on_settings_arg = rec;
	rc = vigil_recorder_start(rec, workers.frames, workers.n);
	if (rc < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot start the recorder: %s\n", strerror(-rc));
		goto err_recorder;
	}

	vigil_log(VIGIL_LOG_INFO, "vigild: %u camera(s), %u worker(s), %s, crypto %s; %u recorder thread(s) writing into %s; %s\n",
		cfg.n_cameras, workers.n, port.spread, crypto.engine, cfg.recorders, cfg.record_dir,
		opts.pcap ? "reading the capture" : "running until SIGINT/SIGTERM");
	rc = vigil_workers_launch(&workers, &port, &cfg, streams, &neigh, &stop, opts.pcap != NULL, msg,
				  sizeof(msg));
	if (rc < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: %s\n", msg);
	/* Live only: a capture run ends by itself. */
	if (opts.pcap == NULL && strcmp(opts.admin, "none") != 0) {
		admin = vigil_admin_open(opts.admin, cfg.admin_group, msg, sizeof(msg));
		if (admin == NULL)
			vigil_log(VIGIL_LOG_WARNING, "vigild: no admin socket (vigilctl will not reach this vigild): %s\n", msg);
		else
			vigil_log(VIGIL_LOG_INFO, "vigild: admin socket %s, changes made through it recorded in %s\n", opts.admin,
				opts.audit);
		/* The audit log's folder, as the socket's was made. */
		if (admin != NULL && strrchr(opts.audit, '/') != NULL) {
			char dir[4096];

			snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(opts.audit, '/') - opts.audit), opts.audit);
			if (dir[0] != '\0' && mkdir(dir, 0750) < 0 && errno != EEXIST)
				vigil_log(VIGIL_LOG_WARNING, "vigild: cannot make %s for the audit log: %s\n", dir, strerror(errno));
		}
	}
	if (events != NULL)
		vigil_events_set_admin(events, admin);
	if (cfg.metrics_listen.port != 0) {
		metrics = vigil_metrics_start(&cfg, msg, sizeof(msg));
		if (metrics == NULL)
			vigil_log(VIGIL_LOG_WARNING, "vigild: no metrics: %s\n", msg);
		else
			vigil_log(VIGIL_LOG_INFO, "vigild: metrics, /healthz and /readyz on http://%s\n", cfg.metrics_listen.text);
	}
	/* Recording goes on without it: said, as for the metrics. */
	if (cfg.playback_listen.port != 0) {
		playback = vigil_playback_start(&cfg, keystore_key, vigil_recorder_live(rec), msg, sizeof(msg));
		if (playback == NULL)
			vigil_log(VIGIL_LOG_WARNING, "vigild: no playback: %s\n", msg);
		else
			vigil_log(VIGIL_LOG_INFO, "vigild: playback (recordings and the player, %s) on %s/player/\n",
				  cfg.player_dir, vigil_playback_url(playback));
	}
	cmds = (struct vigil_commands){
	    .cams = &cams, .ws = &workers, .rec = rec, .hs = hs, .events = events, .up = up, .audit = opts.audit,
	    .crypto = crypto.engine, .stop = &stop, .cluster = cluster, .playback = playback};
	control_loop(&cmds, hs, admin, metrics, events, rec, streams->qsbr);
	sd_notify(0, "STOPPING=1");
	vigil_metrics_stop(metrics);
	vigil_playback_stop(playback);
	if (events != NULL)
		vigil_events_set_admin(events, NULL);
	vigil_admin_close(admin);
	vigil_workers_wait(&workers);
	/* The last indices published, then its lease revoked: the others see
	 * it gone now, not in LeaseSeconds, and continue where it stopped. */
	vigil_cluster_leave(cluster);
	vigil_cluster_free(cluster);
	cluster = NULL;
	/* The workers have stopped: the highest indices are final. */
	if (vigil_cameras_persist_final(&cams) < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: the replay state could not be written at the end (see above)\n");
	/* The workers have flushed their streams; now the recorder drains,
	 * and the segments it closes meanwhile are events too (the webhook
	 * has them; the ring to the events would fill with 10,000 cameras). */
	vigil_recorder_stop_begin(rec);
	while (events != NULL && !vigil_recorder_stopped(rec))
		if (vigil_events_poll(events, rec) == 0)
			usleep(1000);
	if (vigil_recorder_stop(rec) < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: recording ended with an error (see above)\n");

	while (events != NULL && vigil_events_poll(events, rec) > 0)
		;
	/* The last segments and the ended playlists into the bucket; what
	 * does not make it stays in the spool for the next start. */
	if (up != NULL) {
		struct vigil_upload_stats us;
		uint64_t left = vigil_uploader_finish(up, cfg.storage.upload_wait_seconds);

		vigil_uploader_stats(up, &us);
		if (left > 0) {
			vigil_log(VIGIL_LOG_ERR,
				  "vigild: storage: %llu segment(s), %llu bytes, not uploaded after %u s: left in the spool "
				  "under %s for the next start\n",
				  (unsigned long long)left, (unsigned long long)us.spool_bytes,
				  cfg.storage.upload_wait_seconds, cfg.record_dir);
			spool_left = opts.pcap != NULL; /* exit 2 */
		}
	}
	summary = vigil_summary(&cams, workers.w, workers.n, rec, hs);
	if (summary != NULL && up != NULL)
		json_object_set_new(summary, "storage", vigil_storage_summary(up));
	if (summary != NULL && events != NULL)
		json_object_set_new(summary, "events", vigil_events_summary(events));
	if (summary != NULL)
		json_object_set_new(summary, "crypto", json_string(crypto.engine));
	if (rc == 0 && summary != NULL && json_dumpf(summary, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) == 0) {
		fputc('\n', stdout);
		status = spool_left ? EXIT_RUNTIME : 0;
	} else if (rc == 0) {
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot write the summary\n");
	}
	fflush(stdout);
	json_decref(summary);

err_recorder:
	vigil_cluster_free(cluster);
	cluster = NULL;
	vigil_recorder_free(rec);
err_streams:
	vigil_cluster_free(cluster);
	vigil_uploader_free(up);
	vigil_events_free(events); /* the EventHook's queue drains a little first */
	vigil_handshakes_free(hs);
	vigil_stream_table_free(streams);
	vigil_cameras_fini(&cams);
	vigil_state_close(state);
err_workers:
	vigil_workers_free(&workers);
err_port:
	vigil_port_stop(&port);
err_eal:
	vigil_crypto_close(&crypto);
	rte_eal_cleanup();
err_config:
	free_stored(&stored, &n_stored);
	sodium_free(keystore_key);
	vigil_config_free(&cfg);
	return status;
}
