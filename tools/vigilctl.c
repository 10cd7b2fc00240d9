/* SPDX-License-Identifier: MIT */
/* vigilctl: the admin socket's command line. One request, one reply:
 *
 *   vigilctl [--socket PATH] [--json] stats      every counter, totals and per camera
 *   vigilctl [--socket PATH] [--json] cameras    one line per camera
 *
 * Exit status: 0 done, 1 vigild refused the request (its reason on
 * stderr), 2 usage, or vigild cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "admin.h"

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: vigilctl [--socket PATH] [--json] stats|cameras\n"
		     "\n"
		     "  stats     every counter, in total and per camera (JSON)\n"
		     "  cameras   one line per camera: state, packets, frames\n"
		     "  --socket  vigild's admin socket (default " VIGIL_ADMIN_DEFAULT_SOCKET ")\n"
		     "  --json    the reply as vigild sent it\n");
	return status;
}

/* Sends the request, reads one line back. NULL with a message on stderr. */
static json_t *ask(const char *path, const char *cmd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char line[1 << 24];
	char *req = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *reply;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vigilctl: socket path too long\n");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vigilctl: cannot reach vigild at %s: %s%s\n", path, strerror(errno),
			errno == EACCES ? " (run as root or as vigild's user)"
			: errno == ENOENT ? " (is vigild running live? --socket to point elsewhere)"
					  : "");
		return NULL;
	}
	if (asprintf(&req, "{\"cmd\":\"%s\"}\n", cmd) < 0 || write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "vigilctl: cannot send: %s\n", strerror(errno));
		free(req);
		close(fd);
		return NULL;
	}
	free(req);
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

	printf("%-24s %-8s %12s %12s %10s %8s %8s\n", "camera", "state", "packets", "decrypted", "recorded", "dropped",
	       "segments");
	json_array_foreach(list, i, cam)
		printf("%-24s %-8s %12lld %12lld %10lld %8lld %8lld\n", json_string_value(json_object_get(cam, "name")),
		       json_string_value(json_object_get(cam, "state")),
		       json_integer_value(json_object_get(cam, "rx_packets")),
		       json_integer_value(json_object_get(cam, "decrypted")),
		       json_integer_value(json_object_get(cam, "frames_recorded")),
		       json_integer_value(json_object_get(cam, "frames_dropped")),
		       json_integer_value(json_object_get(cam, "segments")));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = VIGIL_ADMIN_DEFAULT_SOCKET, *cmd;
	bool json = false;
	json_t *reply;
	int o, status;

	while ((o = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	if (optind + 1 != argc)
		return usage(stderr, 2);
	cmd = argv[optind];
	if (strcmp(cmd, "stats") != 0 && strcmp(cmd, "cameras") != 0) {
		fprintf(stderr, "vigilctl: unknown command '%s'\n", cmd);
		return usage(stderr, 2);
	}
	reply = ask(path, cmd);
	if (reply == NULL)
		return 2;
	status = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	if (status != 0)
		fprintf(stderr, "vigilctl: vigild says: %s\n", json_string_value(json_object_get(reply, "error")));
	else if (json || strcmp(cmd, "stats") == 0)
		/* stats is JSON either way: the summary, as vigild prints it. */
		json_dumpf(json ? reply : json_object_get(reply, "stats"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS),
		    putchar('\n');
	else
		print_cameras(json_object_get(reply, "cameras"));
	json_decref(reply);
	return status;
}
