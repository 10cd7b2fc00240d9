/* SPDX-License-Identifier: MIT */
/* vigilctl: the admin socket's command line. One request, one reply:
 *
 *   vigilctl [--socket PATH] [--json] stats          every counter, totals and per camera
 *   vigilctl [--socket PATH] [--json] cameras        one line per camera
 *   vigilctl [--socket PATH] [--json] camera NAME    one camera, every counter
 *   vigilctl [--socket PATH] [--json] segments NAME  one camera's recordings on disk
 *   vigilctl [--socket PATH] reload                  re-read the configuration, as SIGHUP
 *   vigilctl [--socket PATH] shutdown                drain, close the recordings, stop
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
	fprintf(out, "usage: vigilctl [--socket PATH] [--json] stats|cameras|camera NAME|segments NAME|reload|shutdown\n"
		     "\n"
		     "  stats        every counter, in total and per camera (JSON)\n"
		     "  cameras      one line per camera: state, packets, frames\n"
		     "  camera NAME  one camera, every counter (JSON)\n"
		     "  segments NAME  one camera's recordings on disk, oldest first\n"
		     "  reload       re-read the configuration and apply camera changes (as SIGHUP)\n"
		     "  shutdown     drain, close the recordings and stop vigild (as SIGTERM)\n"
		     "  --socket  vigild's admin socket (default " VIGIL_ADMIN_DEFAULT_SOCKET ")\n"
		     "  --json    the reply as vigild sent it\n");
	return status;
}

/* Sends the request, reads one line back. NULL with a message on stderr. */
static json_t *ask(const char *path, json_t *request)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char line[1 << 24];
	char *req = NULL, *line_out = NULL;
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
	req = json_dumps(request, JSON_COMPACT);
	if (req == NULL || asprintf(&line_out, "%s\n", req) < 0 ||
	    write(fd, line_out, strlen(line_out)) != (ssize_t)strlen(line_out)) {
		fprintf(stderr, "vigilctl: cannot send: %s\n", strerror(errno));
		free(req);
		close(fd);
		return NULL;
	}
	free(req);
	free(line_out);
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
	json_t *reply, *request;
	int o, status;

	while ((o = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	if (optind >= argc)
		return usage(stderr, 2);
	cmd = argv[optind];
	if ((strcmp(cmd, "camera") == 0 || strcmp(cmd, "segments") == 0) && optind + 2 == argc) {
		request = json_pack("{ssss}", "cmd", cmd, "name", argv[optind + 1]);
	} else if (optind + 1 == argc && (strcmp(cmd, "stats") == 0 || strcmp(cmd, "cameras") == 0 ||
					  strcmp(cmd, "reload") == 0 || strcmp(cmd, "shutdown") == 0)) {
		request = json_pack("{ss}", "cmd", cmd);
	} else {
		fprintf(stderr, "vigilctl: '%s' is not a command, or not with these arguments\n", cmd);
		return usage(stderr, 2);
	}
	reply = ask(path, request);
	json_decref(request);
	if (reply == NULL)
		return 2;
	status = json_is_true(json_object_get(reply, "ok")) ? 0 : 1;
	if (status != 0)
		fprintf(stderr, "vigilctl: vigild says: %s\n", json_string_value(json_object_get(reply, "error")));
	else if (json)
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_SORT_KEYS), putchar('\n');
	else if (strcmp(cmd, "cameras") == 0)
		print_cameras(json_object_get(reply, "cameras"));
	else if (strcmp(cmd, "segments") == 0)
		print_segments(reply);
	else if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "shutdown") == 0)
		printf("%s\n", json_string_value(json_object_get(reply, cmd)));
	else /* stats, camera: JSON either way, as vigild's summary */
		json_dumpf(json_object_get(reply, cmd), stdout, JSON_INDENT(2) | JSON_SORT_KEYS), putchar('\n');
	json_decref(reply);
	return status;
}
