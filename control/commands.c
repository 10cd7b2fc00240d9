/* SPDX-License-Identifier: MIT */
/* The admin socket's commands (commands.h). A request is {"cmd": ...,
 * "action": ..., "name": ..., ...}; each row of the table checks what its
 * action needs and calls the control plane. Changes are audited. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/log.h"
#include "admin.h"
#include "admin_commands.h"
#include "commands.h"
#include "metrics.h"
#include "playlist.h"
#include "storage.h"
#include "summary.h"
#include "viewer_token.h"

#define MAX_SETTINGS 16

/* A JSON string of s: request values reach messages, and a message cut
 * by snprintf may end inside a UTF-8 sequence, which json_string
 * refuses; then every byte outside ASCII becomes '?'. */
static json_t *text(const char *s)
{
	json_t *v = json_string(s);
	char safe[sizeof(((struct vigil_commands *)0)->msg)];
	size_t i;

	if (v != NULL)
		return v;
	for (i = 0; s[i] != '\0' && i + 1 < sizeof(safe); i++)
		safe[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	safe[i] = '\0';
	return json_string(safe);
}

/* One JSON object per line per change made through the socket, appended
 * and on disk before the change is answered. Fixed fields, each escaped
 * by jansson (control characters, quotes, anything outside ASCII), so a
 * value in a request cannot forge a line; never a key. A copy goes to
 * stderr. */
static void audit(struct vigil_commands *k, unsigned uid, const char *command, const char *name, bool ok,
		  const char *message)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *entry;
	char *line = NULL;
	int fd = -1, rc = -ENOMEM;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	entry = json_pack("{ss sI ss ss? ss so}", "time", when, "uid", (json_int_t)uid, "command", command, "camera",
			  name, "result", ok ? "ok" : "refused", "message", text(message));
	if (entry != NULL)
		line = json_dumps(entry, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(entry);
	if (line != NULL) {
		size_t len = strlen(line);

		vigil_log(VIGIL_LOG_NOTICE, "vigild: admin: %s\n", line);
		line[len++] = '\n'; /* over the NUL: written by length, in one write */
		fd = open(k->audit, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		ssize_t n = fd < 0 ? -1 : write(fd, line, len);

		if (n < 0)
			rc = -errno;
		else if ((size_t)n != len)
			rc = -ENOSPC; /* a short write: the disk is full */
		else
			rc = fsync(fd) < 0 ? -errno : 0;
	}
	if (rc < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: cannot write the audit log %s: %s\n", k->audit, strerror(-rc));
	if (fd >= 0)
		close(fd);
	vigil_admin_free(line);
}

static json_t *fail(struct vigil_commands *k, const char **error)
{
	*error = k->msg;
	return NULL;
}

/* A change the control plane made (it saved the keystore first). */
static json_t *changed(struct vigil_commands *k, const char *key)
{
	return json_pack("{ss}", key, k->msg);
}

static json_t *cmd_summary(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	json_t *summary = vigil_summary(k->cams, k->ws->w, k->ws->n, k->rec, k->hs), *out, *cam;

	(void)req;
	if (summary == NULL) {
		*error = "out of memory";
		return NULL;
	}
	if (name == NULL) {
		if (k->events != NULL)
			json_object_set_new(summary, "events", vigil_events_summary(k->events));
		if (k->playback != NULL)
			json_object_set_new(summary, "playback", vigil_playback_summary(k->playback));
		return json_pack("{so}", "stats", summary);
	}
	cam = json_object_get(json_object_get(summary, "cameras"), name);
	if (cam == NULL) {
		json_decref(summary);
		snprintf(k->msg, sizeof(k->msg), "no camera '%s'", name);
		return fail(k, error);
	}
	out = json_pack("{sO}", "camera", cam);
	json_decref(summary);
	return out;
}

static json_t *cmd_stats(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	return cmd_summary(k, NULL, req, error);
}

static json_t *cmd_cameras(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	json_t *summary = vigil_summary(k->cams, k->ws->w, k->ws->n, k->rec, k->hs), *list, *cam;

	(void)req;
	if (summary == NULL) {
		*error = "out of memory";
		return NULL;
	}
	list = json_array();
	json_object_foreach(json_object_get(summary, "cameras"), name, cam)
		json_array_append_new(list, json_pack("{ss sO sO sO sO sO sO sO}", "name", name, "state",
						      json_object_get(cam, "state"), "liveness",
						      json_object_get(cam, "liveness"), "rx_packets",
						      json_object_get(cam, "rx_packets"), "decrypted",
						      json_object_get(cam, "decrypted"), "frames_recorded",
						      json_object_get(cam, "frames_recorded"), "frames_dropped",
						      json_object_get(cam, "frames_dropped"), "segments",
						      json_object_get(cam, "segments")));
	json_decref(summary);
	return json_pack("{so}", "cameras", list);
}

static json_t *cmd_storage(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	if (k->up == NULL) {
		*error = "no [Storage] section: recordings stay in RecordDir";
		return NULL;
	}
	return json_pack("{so}", "storage", vigil_storage_summary(k->up));
}

static json_t *cmd_health(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	char buf[sizeof(k->msg) - 16];
	const char *why = vigil_metrics_not_ready(k, buf, sizeof(buf));

	(void)name;
	(void)req;
	if (why != NULL) {
		snprintf(k->msg, sizeof(k->msg), "not ready: %s", why);
		*error = k->msg;
		return NULL;
	}
	return json_pack("{ss}", "health", "ready");
}

/* The connection becomes a watcher (admin.h): the events follow. */
static json_t *cmd_watch(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	if (k->events == NULL) {
		*error = "no events: vigild is not running live";
		return NULL;
	}
	return json_pack("{ss sb}", "watch", "events follow, one JSON object a line", "subscribe", 1);
}

/* settings: the [Camera] keys of the configuration file, values as
 * strings ({"SSRC": "7", "Codec": "H264", "Key": "..."}). */
static json_t *cmd_camera_add(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	const char *keys[MAX_SETTINGS + 1] = {"Name"}, *values[MAX_SETTINGS + 1] = {name}, *key;
	json_t *settings = json_object_get(req, "settings"), *value;
	struct vigil_camera_config *cam;
	unsigned n = 1;

	if (k->cams->keystore_key == NULL && k->cluster == NULL) {
		snprintf(k->msg, sizeof(k->msg),
			 "vigild has no Keystore in [Ingest], where added cameras are kept; add the camera to %s and reload",
			 k->cams->cfg->path);
		return fail(k, error);
	}
	if (!json_is_object(settings) || json_object_size(settings) > MAX_SETTINGS) {
		snprintf(k->msg, sizeof(k->msg), "camera add: \"settings\" must be an object of at most %d [Camera] keys",
			 MAX_SETTINGS);
		return fail(k, error);
	}
	json_object_foreach(settings, key, value) {
		if (!json_is_string(value)) {
			snprintf(k->msg, sizeof(k->msg), "camera add: %s must be a string, as in the configuration file",
				 key);
			return fail(k, error);
		}
		keys[n] = key;
		values[n++] = json_string_value(value);
	}
	cam = sodium_malloc(sizeof(*cam));
	if (cam == NULL) {
		*error = "out of memory";
		return NULL;
	}
	if (vigil_config_camera(k->cams->cfg, cam, keys, values, n, k->msg, sizeof(k->msg)) < 0 ||
	    (k->cluster != NULL
		 ? vigil_cluster_change(k->cluster, VIGIL_CLUSTER_ADD, name, cam, NULL, NULL, k->msg, sizeof(k->msg))
		 : vigil_cameras_add(k->cams, cam, k->msg, sizeof(k->msg))) < 0) {
		sodium_free(cam);
		return fail(k, error);
	}
	sodium_free(cam);
	return changed(k, "camera");
}

static json_t *cmd_camera_rotate(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_MASTER_SALT_LEN];
	const char *value = NULL;
	int rc;

	if (json_unpack(req, "{ss}", "key", &value) < 0) {
		snprintf(k->msg, sizeof(k->msg), "camera rotate: the new key? {\"key\": \"<base64 of 44 bytes>\"}");
		return fail(k, error);
	}
	rc = vigil_config_key(value, key, salt, k->msg, sizeof(k->msg));
	if (rc == 0 && k->cluster != NULL)
		rc = vigil_cluster_change(k->cluster, VIGIL_CLUSTER_ROTATE, name, NULL, key, salt, k->msg, sizeof(k->msg));
	else if (rc == 0)
		rc = vigil_cameras_rotate(k->cams, name, key, salt, k->msg, sizeof(k->msg));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	return rc < 0 ? fail(k, error) : changed(k, "camera");
}

static json_t *cmd_camera_revoke(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)req;
	if ((k->cluster != NULL
		 ? vigil_cluster_change(k->cluster, VIGIL_CLUSTER_REVOKE, name, NULL, NULL, NULL, k->msg, sizeof(k->msg))
		 : vigil_cameras_revoke(k->cams, name, k->msg, sizeof(k->msg))) < 0)
		return fail(k, error);
	return changed(k, "camera");
}

static json_t *cmd_camera_remove(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)req;
	if ((k->cluster != NULL
		 ? vigil_cluster_change(k->cluster, VIGIL_CLUSTER_REMOVE, name, NULL, NULL, NULL, k->msg, sizeof(k->msg))
		 : vigil_cameras_remove(k->cams, name, k->msg, sizeof(k->msg))) < 0)
		return fail(k, error);
	return changed(k, "camera");
}

static int recording_file(const struct dirent *de)
{
	return strstr(de->d_name, ".ts") != NULL || strstr(de->d_name, ".m4s") != NULL ||
	       strncmp(de->d_name, "init-", 5) == 0;
}

/* A camera's recordings on disk, in name order, that is the order they
 * were made: segments (and the one being written), init segments, each
 * with its size. */
static json_t *cmd_segments(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	const struct vigil_config *cfg = k->cams->cfg;
	char dir[sizeof(cfg->record_dir) + VIGIL_CAMERA_NAME_MAX + 2], path[sizeof(dir) + 300];
	struct dirent **ents;
	json_t *list;
	int n;

	(void)req;
	if (vigil_cameras_find(k->cams, name) < 0) {
		snprintf(k->msg, sizeof(k->msg), "no camera '%s'", name);
		return fail(k, error);
	}
	snprintf(dir, sizeof(dir), "%s/%s", cfg->record_dir, name);
	n = scandir(dir, &ents, recording_file, alphasort);
	if (n < 0) {
		snprintf(k->msg, sizeof(k->msg), "%s: %s", dir, strerror(errno));
		return fail(k, error);
	}
	list = json_array();
	for (int i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) == 0)
			json_array_append_new(list, json_pack("{ss sI sb}", "name", ents[i]->d_name, "bytes",
							      (json_int_t)st.st_size, "being_written",
							      strstr(ents[i]->d_name, ".partial") != NULL));
		free(ents[i]);
	}
	free(ents);
	return json_pack("{ss so}", "dir", dir, "segments", list);
}

static json_t *cmd_config_check(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	if (vigil_cameras_check(k->cams, k->msg, sizeof(k->msg)) < 0)
		return fail(k, error);
	return json_pack("{ss}", "config", k->msg);
}

static json_t *cmd_reload(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	if (vigil_cameras_reload(k->cams, k->msg, sizeof(k->msg)) < 0)
		return fail(k, error);
	return json_pack("{ss}", "reload", k->msg);
}

/* The cluster's nodes, as etcd holds their records. */
static json_t *cmd_cluster(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	json_t *out;

	(void)name;
	(void)req;
	if (k->cluster == NULL) {
		*error = "not a cluster node: no [Cluster] in its configuration";
		return NULL;
	}
	out = vigil_cluster_nodes(k->cluster, k->msg, sizeof(k->msg));
	if (out == NULL) {
		*error = "out of memory";
		return NULL;
	}
	return json_pack("{so}", "cluster", out);
}

static json_t *cmd_drain(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	if (k->cluster == NULL) {
		snprintf(k->msg, sizeof(k->msg), "not a cluster node: nothing to drain (vigilctl shutdown stops it)");
		return fail(k, error);
	}
	if (vigil_cluster_drain(k->cluster, k->msg, sizeof(k->msg)) < 0)
		return fail(k, error);
	return json_pack("{ss}", "drain", k->msg);
}

static json_t *cmd_shutdown(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	(void)name;
	(void)req;
	(void)error;
	*k->stop = true;
	snprintf(k->msg, sizeof(k->msg), "stopping: draining and closing the recordings");
	return json_pack("{ss}", "shutdown", k->msg);
}

/* A viewer token (docs/playback.md): {"ttl": seconds, "from", "to": UTC
 * times or seconds, both optional}. The token is in the reply, never in
 * the audit log. */
static json_t *cmd_token(struct vigil_commands *k, const char *name, json_t *req, const char **error)
{
	json_int_t ttl = VIGIL_TOKEN_DEFAULT_TTL;
	const char *from = NULL, *to = NULL;
	int slot;
	uint64_t range[2] = {0, 0}, expires;
	char token[VIGIL_TOKEN_TEXT_MAX], when[64], player[600 + VIGIL_TOKEN_TEXT_MAX];
	json_t *out;

	if (k->playback == NULL) {
		snprintf(k->msg, sizeof(k->msg), "no playback endpoint: set PlaybackListen in [Ingest]");
		return fail(k, error);
	}
	if ((slot = vigil_cameras_find(k->cams, name)) < 0) {
		snprintf(k->msg, sizeof(k->msg), "no camera '%s'", name);
		return fail(k, error);
	}
	if (json_unpack(req, "{s?I s?s s?s}", "ttl", &ttl, "from", &from, "to", &to) < 0 || ttl < 1 ||
	    ttl > VIGIL_TOKEN_MAX_TTL) {
		snprintf(k->msg, sizeof(k->msg), "token: ttl is 1 to %d seconds; from and to are UTC times",
			 VIGIL_TOKEN_MAX_TTL);
		return fail(k, error);
	}
	for (int i = 0; i < 2; i++) {
		const char *t = i == 0 ? from : to;
		bool ok = true;

		if (t != NULL && ((range[i] = vigil_time_arg(t, &ok) / 1000000000u), !ok || range[i] == 0)) {
			snprintf(k->msg, sizeof(k->msg), "token: %s '%s' is not a UTC time (2026-12-07T10:00:00Z)",
				 i == 0 ? "from" : "to", t);
			return fail(k, error);
		}
	}
	if (range[1] != 0 && range[1] <= range[0]) {
		snprintf(k->msg, sizeof(k->msg), "token: to is not after from");
		return fail(k, error);
	}
	if (vigil_playback_token(k->playback, name, (uint64_t)ttl, range[0], range[1], token, sizeof(token),
				 &expires) < 0) {
		snprintf(k->msg, sizeof(k->msg), "token: cannot make one for '%s'", name);
		return fail(k, error);
	}
	vigil_playlist_time_fmt(when, sizeof(when), expires * 1000000000u);
	snprintf(k->msg, sizeof(k->msg), "viewer token for %s until %s%s%s%s%s", name, when,
		 from != NULL ? ", from " : "", from != NULL ? from : "", to != NULL ? ", to " : "",
		 to != NULL ? to : "");
	/* sealed=1: the page then plays nothing but sealed segments that open. */
	snprintf(player, sizeof(player), "%s/player/#camera=%s&token=%s%s%s%s%s%s", vigil_playback_url(k->playback),
		 name, token, k->cams->cfg->cameras[slot].sealed ? "&sealed=1" : "", from != NULL ? "&from=" : "",
		 from != NULL ? from : "", to != NULL ? "&to=" : "", to != NULL ? to : "");
	out = json_pack("{ss ss sI ss}", "token", token, "expires", when, "ttl", ttl, "player", player);
	sodium_memzero(player, sizeof(player));
	sodium_memzero(token, sizeof(token));
	return out;
}

static const struct command {
	const char *cmd, *action;
	int arg;
	bool changes;
	json_t *(*run)(struct vigil_commands *k, const char *name, json_t *req, const char **error);
} commands[] = {
#define COMMAND_ROW(fn, cmd, action, arg, changes, words, help) {cmd, action, arg, changes, cmd_##fn},
	VIGIL_FOREACH_ADMIN_COMMAND(COMMAND_ROW)
#undef COMMAND_ROW
};

/* "stats, cameras, camera show|add|..., segments, ...": the commands as
 * the unknown-command reply lists them. */
static void command_list(char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && n < len; i++) {
		const struct command *c = &commands[i];
		bool same = i > 0 && strcmp(commands[i - 1].cmd, c->cmd) == 0;

		n += (size_t)snprintf(out + n, len - n, "%s%s%s%s", same ? "|" : i ? ", " : "", same ? "" : c->cmd,
				      c->action != NULL && !same ? " " : "", c->action != NULL ? c->action : "");
	}
}

json_t *vigil_commands_run(void *arg, unsigned peer_uid, const char *cmd, json_t *req, const char **error)
{
	struct vigil_commands *k = arg;
	const struct command *c = NULL;
	const char *action = NULL, *name = NULL;
	char what[64];
	json_t *out;

	if (json_unpack(req, "{s?s s?s}", "action", &action, "name", &name) < 0) {
		*error = "\"action\" and \"name\" must be strings";
		return NULL;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].cmd, cmd) != 0)
			continue;
		/* The first action is the default one (camera NAME: show). */
		if (commands[i].action == NULL || action == NULL || strcmp(commands[i].action, action) == 0) {
			c = &commands[i];
			break;
		}
	}
	if (c == NULL) {
		char list[256];

		command_list(list, sizeof(list));
		snprintf(k->msg, sizeof(k->msg), "unknown command%s%s; the commands are: %s",
			 action != NULL ? " or action " : "", action != NULL ? action : "", list);
		return fail(k, error);
	}
	/* The names vigild knows cameras by, in replies, logs and paths. */
	if (name != NULL && !vigil_config_valid_name(name)) {
		snprintf(k->msg, sizeof(k->msg), "a camera name is 1-%d characters of A-Z a-z 0-9 _ -",
			 VIGIL_CAMERA_NAME_MAX);
		out = fail(k, error);
	} else if (c->arg == VIGIL_ADMIN_ARG_NAME && name == NULL) {
		snprintf(k->msg, sizeof(k->msg), "%s: which camera? {\"cmd\": \"%s\", \"name\": \"...\"}", cmd, cmd);
		out = fail(k, error);
	} else {
		out = c->run(k, name, req, error);
	}
	/* A change asked for, done or refused, whatever its values. */
	if (c->changes) {
		snprintf(what, sizeof(what), "%s%s%s", cmd, c->action ? " " : "", c->action ? c->action : "");
		audit(k, peer_uid, what, name, out != NULL, out ? k->msg : *error);
	}
	return out;
}
