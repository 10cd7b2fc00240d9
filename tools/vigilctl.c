/* SPDX-License-Identifier: MIT */
/* vigilctl: the admin socket's command line. One request, one reply;
 * human-readable tables by default, --json for scripts. The commands are
 * the table below (vigilctl --help lists them).
 *
 * Exit status: 0 done, 1 vigild refused the request (its reason on
 * stderr), 2 usage, or vigild cannot be reached. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "admin.h"
#include "admin_commands.h"
#include "keystore.h"
#include "recordings.h"
#include "seal.h"
#include "vigil/limits.h"

static const struct command {
	const char *cmd, *action; /* the request's; cmd NULL: vigilctl does it alone */
	int arg;
	const char *words; /* what is typed, NAME and FILE being the arguments */
	const char *help;
} commands[] = {
#define COMMAND_ROW(fn, cmd, action, arg, changes, words, help) {cmd, action, arg, words, help},
	VIGIL_FOREACH_ADMIN_COMMAND(COMMAND_ROW)
#undef COMMAND_ROW
	{NULL, NULL, 0, "keygen keystore FILE",
	 "a new keystore master key (mode 0600), for KeystoreKeyFile (no vigild needed)"},
	{NULL, NULL, 0, "recordings NAME [--from T] [--to T] [--config FILE]",
	 "camera NAME's recordings across the nodes of a cluster as one HLS playlist\n"
	 "(stdout), from the object store of vigild's configuration (FILE, default\n"
	 VIGIL_DEFAULT_CONFIG "), segments overlapping [T, T) (2026-12-07T10:00:00Z, or\n"
	 "seconds since 1970); reads the bucket, not vigild"},
	{NULL, NULL, 0, "keygen x25519 FILE",
	 "a new X25519 key pair: the secret key to FILE (mode 0600), the public key\n"
	 "printed: for ServerKeyFile, or a camera's identity (no vigild needed)"},
};

/* All commands, or those that start with the words given. */
static int usage(FILE *out, int status, int argc, char **argv)
{
	char typed[256] = "";
	bool any = false;

	for (int i = 0; i < argc; i++)
		snprintf(typed + strlen(typed), sizeof(typed) - strlen(typed), "%s%s", i ? " " : "", argv[i]);
	fprintf(out, "usage: vigilctl [--socket PATH] [--json] COMMAND ...\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (typed[0] != '\0' && strncmp(commands[i].words, typed, strlen(typed)) != 0)
			continue;
		fprintf(out, "  vigilctl %s\n      ", commands[i].words);
		for (const char *c = commands[i].help; *c; c++)
			fputs(*c == '\n' ? "\n      " : (char[2]){*c, 0}, out);
		fputc('\n', out);
		any = true;
	}
	if (!any)
		fprintf(out, "  (no command starts with '%s'; vigilctl --help lists them)\n", typed);
	fprintf(out, "\n  --socket  vigild's admin socket (default " VIGIL_ADMIN_DEFAULT_SOCKET ")\n"
		     "  --json    the reply as vigild sent it\n"
		     "  --version vigilctl's version\n"
		     "exit status: 0 done, 1 vigild refused (its reason on stderr), 2 usage or vigild unreachable\n");
	return status;
}

/* A connection to vigild's admin socket; -1 with a message on stderr. */
static int reach(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vigilctl: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vigilctl: cannot reach vigild at %s: %s%s\n", path, strerror(errno),
			errno == EACCES ? " (run as root or as vigild's user)"
			: errno == ENOENT ? " (is vigild running live? --socket to point elsewhere)"
					  : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* vigilctl watch: the reply, then each event line as it comes, to stdout
 * (flushed per line, for pipes), until vigild closes the connection. 0,
 * or 1 when vigild refused or dropped us (a watch_dropped line). */
static int watch(const char *path)
{
	static const char req[] = "{\"cmd\":\"watch\"}\n";
	char buf[65536];
	size_t len = 0;
	bool replied = false, dropped = false;
	int fd = reach(path);

	if (fd < 0)
		return 2;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		fprintf(stderr, "vigilctl: cannot send: %s\n", strerror(errno));
		close(fd);
		return 2;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		char *nl;

		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t used = (size_t)(nl - buf) + 1;

			*nl = '\0';
			if (!replied) {
				json_t *reply = json_loads(buf, 0, NULL);

				replied = true;
				if (!json_is_true(json_object_get(reply, "ok"))) {
					fprintf(stderr, "vigilctl: vigild says: %s\n",
						json_string_value(json_object_get(reply, "error")));
					json_decref(reply);
					close(fd);
					return 1;
				}
				json_decref(reply);
			} else {
				dropped |= strstr(buf, "\"type\":\"watch_dropped\"") != NULL;
				printf("%s\n", buf);
				fflush(stdout);
			}
			memmove(buf, buf + used, len - used);
			len -= used;
		}
		if (len == sizeof(buf))
			len = 0; /* a line longer than any event: skipped */
	}
	close(fd);
	if (!replied)
		fprintf(stderr, "vigilctl: vigild closed the connection\n");
	return !replied || dropped ? 1 : 0;
}

/* Sends the request, reads one line back. NULL with a message on stderr. */
static json_t *ask(const char *path, json_t *request)
{
	static char line[1 << 24];
	char *req = NULL, *line_out = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *reply;
	int fd = reach(path);

	if (fd < 0)
		return NULL;
	req = json_dumps(request, JSON_COMPACT);
	/* A refused peer gets its reply and the connection closed, maybe
	 * before the request is sent: read it all the same. The request may
	 * hold a key: both copies wiped. */
	if (req == NULL || asprintf(&line_out, "%s\n", req) < 0 ||
	    (send(fd, line_out, strlen(line_out), MSG_NOSIGNAL) != (ssize_t)strlen(line_out) && errno != EPIPE &&
	     errno != ECONNRESET)) {
		fprintf(stderr, "vigilctl: cannot send: %s\n", strerror(errno));
		vigil_admin_free(req);
		vigil_admin_free(line_out);
		close(fd);
		return NULL;
	}
	vigil_admin_free(req);
	vigil_admin_free(line_out);
	for (;;) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

		if (n <= 0 || (len += (size_t)n) == sizeof(line) - 1 || memchr(line + len - (size_t)n, '\n', (size_t)n))
			break;
	}
	close(fd);
	line[len] = '\0';
	reply = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr);
	if (reply == NULL)
		fprintf(stderr, "vigilctl: vigild's reply is not JSON: %s\n", jerr.text);
	return reply;
}

static void print_cameras(json_t *list)
{
	size_t i;
	json_t *cam;

	printf("%-24s %-9s %-10s %12s %12s %10s %8s %8s\n", "camera", "state", "liveness", "packets", "decrypted",
	       "recorded", "dropped", "segments");
	json_array_foreach(list, i, cam)
		printf("%-24s %-9s %-10s %12lld %12lld %10lld %8lld %8lld\n",
		       json_string_value(json_object_get(cam, "name")), json_string_value(json_object_get(cam, "state")),
		       json_string_value(json_object_get(cam, "liveness")),
		       json_integer_value(json_object_get(cam, "rx_packets")),
		       json_integer_value(json_object_get(cam, "decrypted")),
		       json_integer_value(json_object_get(cam, "frames_recorded")),
		       json_integer_value(json_object_get(cam, "frames_dropped")),
		       json_integer_value(json_object_get(cam, "segments")));
}

static void print_segments(json_t *reply)
{
	size_t i;
	json_t *seg;

	printf("%s\n", json_string_value(json_object_get(reply, "dir")));
	json_array_foreach(json_object_get(reply, "segments"), i, seg)
		printf("  %-32s %12lld%s\n", json_string_value(json_object_get(seg, "name")),
		       json_integer_value(json_object_get(seg, "bytes")),
		       json_is_true(json_object_get(seg, "being_written")) ? "  (being written)" : "");
}

/* A key file: its first line, base64 (vigil.conf's Key = value); mode
 * 0600 or stricter and the user's or root's, as vigild wants its key
 * files. Read into out, not through stdio's buffer. */
static int read_key_file(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		fprintf(stderr,
			"vigilctl: %s: %s; a key file is a plain file, mode 0600 and yours (chmod 600 %s)\n", path,
			!S_ISREG(st.st_mode) ? "not a plain file"
			: (st.st_mode & 077) ? "group or others may read or change it"
					     : "owned by another user",
			path);
		close(fd);
		return -1;
	}
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "vigilctl: %s: %s\n", path,
			n < 0 ? strerror(errno) : "empty; it should hold the key in base64 on one line");
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	sodium_memzero(out + strlen(out), outlen - strlen(out));
	return 0;
}

/* keygen keystore|x25519 FILE: new keys on this machine, no vigild. */
static int keygen(const char *what, const char *path)
{
	uint8_t pk[VIGIL_SEAL_KEY_BYTES];
	char b64[VIGIL_SEAL_KEY_B64_BYTES], msg[1024];

	if (strcmp(what, "keystore") == 0) {
		if (vigil_keystore_key_generate(path, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "vigilctl: %s\n", msg);
			return 1;
		}
		printf("%s: a new keystore master key; name it in KeystoreKeyFile and keep a copy offline\n", path);
		return 0;
	}
	if (strcmp(what, "x25519") != 0)
		return usage(stderr, 2, 2, (char *[]){"keygen", (char *)what});
	if (vigil_seal_keyfile_create(path, pk, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", msg);
		return 1;
	}
	vigil_seal_key_encode(pk, b64);
	printf("%s\n", b64);
	return 0;
}

struct camera_opts {
	const char *ssrc, *codec, *key_file, *identity, *payload_types, *owner_key, *retain_hours, *retain_bytes;
	const char *ttl, *from, *to; /* token */
	bool generate;
	bool bad_key_file; /* said why on stderr: no usage text after it */
	char key[128];     /* the key sent: read from the file or generated */
};

/* The key of camera add/rotate: from --key-file, or --generate'd. */
static int camera_key(struct camera_opts *o)
{
	uint8_t raw[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];

	if ((o->key_file != NULL) == o->generate) {
		fprintf(stderr, "vigilctl: give the key with --key-file FILE, or --generate one (not both)\n");
		return -1;
	}
	if (o->key_file != NULL) {
		o->bad_key_file = read_key_file(o->key_file, o->key, sizeof(o->key)) < 0;
		return o->bad_key_file ? -1 : 0;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(o->key, sizeof(o->key), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

/* "90", "90s", "10m", "2h", "1d": seconds; 0 when it is none of them. */
static long long duration(const char *s)
{
	char *end;
	long long n = strtoll(s, &end, 10);
	int scale = *end == '\0' || strcmp(end, "s") == 0 ? 1
		    : strcmp(end, "m") == 0		     ? 60
		    : strcmp(end, "h") == 0		     ? 3600
		    : strcmp(end, "d") == 0		     ? 86400
							     : 0;

	return end == s || n <= 0 || n > 100LL * 86400 || scale == 0 ? 0 : n * scale;
}

/* camera add's settings: vigil.conf's [Camera] keys. */
static json_t *add_settings(struct camera_opts *o)
{
	json_t *settings = json_object();
	const struct {
		const char *key, *value;
	} pairs[] = {
		{"SSRC", o->ssrc},
		{"Codec", o->codec},
		{"Identity", o->identity},
		{"PayloadTypes", o->payload_types},
		{"OwnerKey", o->owner_key},
		{"RetainHours", o->retain_hours},
		{"RetainBytes", o->retain_bytes},
	};

	if (o->identity == NULL) {
		if (camera_key(o) < 0) {
			json_decref(settings);
			return NULL;
		}
		json_object_set_new(settings, "Key", json_string(o->key));
	} else if (o->key_file != NULL || o->generate) {
		fprintf(stderr, "vigilctl: a camera with --identity gets its keys by handshake: no --key-file or --generate\n");
		json_decref(settings);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (pairs[i].value != NULL)
			json_object_set_new(settings, pairs[i].key, json_string(pairs[i].value));
	return settings;
}

/* The request for the words typed, or NULL (the reason printed): the
 * command whose cmd and action they start with, then its NAME; `camera
 * NAME` is its first action (show). */
static json_t *request_of(int argc, char **argv, struct camera_opts *o)
{
	const struct command *c = NULL;
	const char *name;
	json_t *req, *settings;
	int words;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && c == NULL; i++) {
		const struct command *t = &commands[i];
		bool first;

		if (t->cmd == NULL || strcmp(t->cmd, argv[0]) != 0)
			continue;
		first = i == 0 || strcmp(commands[i - 1].cmd, t->cmd) != 0;
		if (t->action == NULL || (argc > 1 && strcmp(argv[1], t->action) == 0))
			c = t, words = t->action == NULL ? 1 : 2;
		else if (first && t->arg == VIGIL_ADMIN_ARG_NAME && argc == 2)
			c = t, words = 1;
	}
	if (c == NULL || argc != words + (c->arg == VIGIL_ADMIN_ARG_NAME))
		return NULL;
	name = c->arg == VIGIL_ADMIN_ARG_NAME ? argv[words] : NULL;
	req = json_pack("{ss}", "cmd", c->cmd);
	if (words == 2)
		json_object_set_new(req, "action", json_string(c->action));
	if (name != NULL)
		json_object_set_new(req, "name", json_string(name));
	if (words == 2 && strcmp(c->action, "rotate") == 0) {
		if (camera_key(o) < 0) {
			json_decref(req);
			return NULL;
		}
		json_object_set_new(req, "key", json_string(o->key));
	} else if (words == 2 && strcmp(c->action, "add") == 0) {
		if ((settings = add_settings(o)) == NULL) {
			json_decref(req);
			return NULL;
		}
		json_object_set_new(req, "settings", settings);
	} else if (strcmp(c->cmd, "token") == 0) {
		long long secs = 600;

		if (o->ttl != NULL && (secs = duration(o->ttl)) <= 0) {
			fprintf(stderr, "vigilctl: --ttl '%s' is not a duration (90s, 10m, 2h, 1d)\n", o->ttl);
			json_decref(req);
			o->bad_key_file = true; /* said why */
			return NULL;
		}
		json_object_set_new(req, "ttl", json_integer(secs));
		if (o->from != NULL)
			json_object_set_new(req, "from", json_string(o->from));
		if (o->to != NULL)
			json_object_set_new(req, "to", json_string(o->to));
	}
	return req;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"ssrc", required_argument, NULL, 'S'},
		{"codec", required_argument, NULL, 'c'},
		{"key-file", required_argument, NULL, 'k'},
		{"generate", no_argument, NULL, 'g'},
		{"identity", required_argument, NULL, 'i'},
		{"payload-types", required_argument, NULL, 'p'},
		{"owner-key", required_argument, NULL, 'o'},
		{"retain-hours", required_argument, NULL, 'H'},
		{"retain-bytes", required_argument, NULL, 'B'},
		{"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'},
		{"config", required_argument, NULL, 'C'},
		{"ttl", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *path = VIGIL_ADMIN_DEFAULT_SOCKET, *cmd, *from = NULL, *to = NULL, *config = VIGIL_DEFAULT_CONFIG;
	struct camera_opts co = {0};
	bool json = false, help = false;
	json_t *reply, *request;
	int o, status;

	while ((o = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'h': help = true; break;
		case 'V': printf("vigilctl %s\n", VIGIL_VERSION); return 0;
		case 'S': co.ssrc = optarg; break;
		case 'c': co.codec = optarg; break;
		case 'k': co.key_file = optarg; break;
		case 'g': co.generate = true; break;
		case 'i': co.identity = optarg; break;
		case 'p': co.payload_types = optarg; break;
		case 'o': co.owner_key = optarg; break;
		case 'H': co.retain_hours = optarg; break;
		case 'B': co.retain_bytes = optarg; break;
		case 'F': from = co.from = optarg; break;
		case 'T': to = co.to = optarg; break;
		case 't': co.ttl = optarg; break;
		case 'C': config = optarg; break;
		default: return usage(stderr, 2, 0, NULL);
		}
	}
	vigil_admin_wipe_json(); /* requests may hold keys */
	if (help)
		return usage(stdout, 0, argc - optind, argv + optind);
	if (optind >= argc)
		return usage(stderr, 2, 0, NULL);
	if (sodium_init() < 0) {
		fprintf(stderr, "vigilctl: libsodium cannot start\n");
		return 2;
	}
	cmd = argv[optind];
	if (strcmp(cmd, "keygen") == 0)
		return optind + 3 == argc ? keygen(argv[optind + 1], argv[optind + 2])
					  : usage(stderr, 2, argc - optind, argv + optind);
	if (strcmp(cmd, "recordings") == 0)
		return optind + 2 == argc ? vigilctl_recordings(config, argv[optind + 1], from, to)
					  : usage(stderr, 2, argc - optind, argv + optind);
	if (strcmp(cmd, "watch") == 0)
		return optind + 1 == argc ? watch(path) : usage(stderr, 2, argc - optind, argv + optind);
	request = request_of(argc - optind, argv + optind, &co);
	if (request == NULL && co.bad_key_file)
		return 2;
	if (request == NULL) {
		fprintf(stderr, "vigilctl: '%s' is not a command, or not with these arguments\n", cmd);
		return usage(stderr, 2, 1, argv + optind);
	}
	reply = ask(path, request);
	json_decref(request);
	if (reply == NULL) {
		sodium_memzero(co.key, sizeof(co.key));
		return 2;
	}
	status = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	if (status != 0)
		fprintf(stderr, "vigilctl: vigild says: %s\n", json_string_value(json_object_get(reply, "error")));
	else if (json)
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_SORT_KEYS), putchar('\n');
	else if (strcmp(cmd, "cameras") == 0)
		print_cameras(json_object_get(reply, "cameras"));
	else if (strcmp(cmd, "segments") == 0)
		print_segments(reply);
	else if (strcmp(cmd, "token") == 0)
		printf("%s\nexpires %s\nplayer: %s\n", json_string_value(json_object_get(reply, "token")),
		       json_string_value(json_object_get(reply, "expires")),
		       json_string_value(json_object_get(reply, "player")));
	else if (json_is_string(json_object_get(reply, cmd))) /* reload, shutdown, config, camera changes */
		printf("%s\n", json_string_value(json_object_get(reply, cmd)));
	else /* stats, camera show: JSON either way, as vigild's summary */
		json_dumpf(json_object_get(reply, cmd), stdout, JSON_INDENT(2) | JSON_SORT_KEYS), putchar('\n');
	if (status == 0 && co.generate)
		printf("key: %s\n(shown once: give it to the camera now; vigild does not show it again)\n", co.key);
	sodium_memzero(co.key, sizeof(co.key));
	json_decref(reply);
	return status;
}
